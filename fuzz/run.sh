#!/bin/sh
# fuzz/run.sh - run libFuzzer targets one after another (`make fuzz`): BUILD/fuzz/fuzz_<t>
# for FUZZ_SECONDS each, from the seeds in tests/fuzz/<t>/ and a working corpus in
# BUILD/corpus/<t>/ (kept between runs), then print one line per target. A crash, leak,
# timeout or out-of-memory leaves its input in BUILD/crashes/<t>/ and the log in
# BUILD/logs/<t>.log, and makes the script fail.
# usage: fuzz/run.sh BUILD TARGET...
set -u

# Inputs libFuzzer left in a crashes directory (older ones stay until removed by hand).
count_crashes() {
    find "$1" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
        -o -name 'oom-*' \) | wc -l
}

# The whole run is one function, read before it starts: editing this file meanwhile is safe.
main() {
    build=$1
    shift
    if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
        export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
    fi
    secs=${FUZZ_SECONDS:-60}
    failed=0
    printf '%-16s %7s %11s %8s %8s %8s %7s\n' target seconds runs exec/s edges features crashes
    for t in "$@"; do
        corpus=$build/corpus/$t
        crashes=$build/crashes/$t
        log=$build/logs/$t.log
        mkdir -p "$corpus" "$crashes" "$build/logs"
        dict=''
        seeds=''
        [ -f "fuzz/$t.dict" ] && dict=-dict=fuzz/$t.dict
        [ -d "tests/fuzz/$t" ] && seeds=tests/fuzz/$t
        before=$(count_crashes "$crashes")
        start=$(date +%s)
        # shellcheck disable=SC2086
        "$build/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$crashes/" $dict "$corpus" $seeds \
            >"$log" 2>&1
        rc=$?
        end=$(date +%s)
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
        status=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
        edges=$(echo "$status" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
        features=$(echo "$status" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
        found=$(($(count_crashes "$crashes") - before))
        printf '%-16s %7s %11s %8s %8s %8s %7s\n' "$t" $((end - start)) "${runs:-?}" \
            "${speed:-?}" "${edges:-?}" "${features:-?}" "$found"
        if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
            failed=1
            echo "fuzz: $t failed (exit $rc); its log is $log:" >&2
            grep -E 'ERROR|SUMMARY|check failed|Test unit written' "$log" | head -n 5 >&2
        fi
    done
    return $failed
}

main "$@"; exit $?
