# Script mode (cmake -P), run on every build: writes the build-info source from its template with the
# current git commit. configure_file rewrites only on change, so an unchanged commit relinks nothing.
# Inputs: SOURCE_DIR, TEMPLATE, OUTPUT, OSPREY_VERSION, OSPREY_BUILD_TYPE, OSPREY_COMPILER.
set(OSPREY_GIT_COMMIT "unknown")
find_package(Git QUIET)
if(GIT_FOUND)
    execute_process(COMMAND "${GIT_EXECUTABLE}" rev-parse --short=12 HEAD
                    WORKING_DIRECTORY "${SOURCE_DIR}" OUTPUT_VARIABLE _commit
                    RESULT_VARIABLE _rc OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    if(_rc EQUAL 0 AND NOT _commit STREQUAL "")
        set(OSPREY_GIT_COMMIT "${_commit}")
        execute_process(COMMAND "${GIT_EXECUTABLE}" status --porcelain --untracked-files=no
                        WORKING_DIRECTORY "${SOURCE_DIR}" OUTPUT_VARIABLE _dirty
                        RESULT_VARIABLE _rc ERROR_QUIET)
        if(_rc EQUAL 0 AND NOT _dirty STREQUAL "")
            string(APPEND OSPREY_GIT_COMMIT "-dirty")
        endif()
    endif()
endif()
configure_file("${TEMPLATE}" "${OUTPUT}" @ONLY)
