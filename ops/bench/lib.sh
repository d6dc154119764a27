# Shared helpers of the ops/bench scripts (source after ops/lib.sh).

now_s() { date +%s.%N; }

# wait_drain LABEL TOTAL DEPTH_CMD...: polls DEPTH_CMD (prints the number of jobs not yet taken)
# every 20 ms. The clock starts once 5% of TOTAL are taken (start-up excluded) and stops when
# the depth reaches 0. Prints "jobs seconds".
wait_drain() {
  local label=$1 total=$2; shift 2
  local warm=$(( total - total / 20 )) depth t0="" d0=0 deadline=$(( $(date +%s) + 600 ))
  while :; do
    depth=$("$@")
    depth=${depth:-$total}
    if [ -z "$t0" ] && [ "$depth" -le "$warm" ]; then t0=$(now_s); d0=$depth; fi
    if [ -n "$t0" ] && [ "$depth" -le 0 ]; then break; fi
    if [ "$(date +%s)" -gt "$deadline" ]; then echo "$label did not drain (depth $depth)" >&2; return 1; fi
    sleep 0.02
  done
  local t1; t1=$(now_s)
  echo "$d0 $(echo "$t1 - $t0" | bc -l)"
}
