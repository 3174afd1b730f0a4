# mean N... prints the integer mean of its arguments.
mean() {
    local sum=0
    for x in "$@"; do sum=$(( sum + x )); done
    echo $(( sum / ($# - 1) ))
}
