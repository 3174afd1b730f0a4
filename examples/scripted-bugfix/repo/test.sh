#!/usr/bin/env bash
. ./mean.sh
got=$(mean 2 4 6)
if [ "$got" = 4 ]; then echo "PASS mean 2 4 6 = 4"; else echo "FAIL mean 2 4 6: got $got, want 4"; exit 1; fi
