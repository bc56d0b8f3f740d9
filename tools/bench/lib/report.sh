# shellcheck shell=bash
# Shared by tools/bench/compare-peers.sh (sourced, not run): collects the rows of the
# comparison and prints the one final table (and, on request, the same as JSON).
#
# A row holds a brokerd figure and a peer figure for the same measure, taken in the same
# sitting. Rates are tasks/s (higher is better), latencies ms (lower is better); the
# ratio is always brokerd / peer. A figure from a run cut short by its time limit is the
# rate of what was done and is marked with "*"; a figure not measured is empty.

ROW_GROUP=()
ROW_MEASURE=()
ROW_UNIT=()
ROW_BROKERD=()
ROW_PEER=()
ROW_BROKERD_CUT=()
ROW_PEER_CUT=()
NOTES=()
COMMANDS=()

# add_row GROUP MEASURE UNIT BROKERD PEER [BROKERD_CUT PEER_CUT]  (cut: "true"/"false")
add_row() {
  ROW_GROUP+=("$1")
  ROW_MEASURE+=("$2")
  ROW_UNIT+=("$3")
  ROW_BROKERD+=("$4")
  ROW_PEER+=("$5")
  ROW_BROKERD_CUT+=("${6:-false}")
  ROW_PEER_CUT+=("${7:-false}")
}

note() {
  NOTES+=("$*")
  log "note: $*"
}

# record_command WHO COMMAND...: a command line as run, for the JSON report and the log.
record_command() {
  local who=$1
  shift
  COMMANDS+=("$who: $*")
  log "+ $*"
}

# format_value VALUE UNIT CUT: "12,345/s", "0.29 ms", "-" when not measured.
format_value() {
  local value=$1 unit=$2 cut=$3 text
  if [[ -z $value ]]; then
    echo "-"
    return
  fi
  if [[ $unit == ms ]]; then
    text=$(awk -v v="$value" 'BEGIN { printf "%.2f ms", v }')
  else
    text=$(awk -v v="$value" 'BEGIN { printf "%.0f", v }' | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta')/s
  fi
  [[ $cut == true ]] && text="$text*"
  echo "$text"
}

ratio() {
  if [[ -z $1 || -z $2 ]]; then
    echo "-"
    return
  fi
  awk -v b="$1" -v p="$2" 'BEGIN { if (p > 0) printf "%.2f", b / p; else print "-" }'
}

machine_cpu() { awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo; }

print_header() {
  echo "brokerd vs peers, started $START_DATE"
  echo "machine: $(nproc) CPUs ($(machine_cpu)), kernel $(uname -r), load average at start $LOAD_AT_START"
  echo "disk: 4 KiB O_DSYNC writes (dd) took $DSYNC_PROBE_US us each on average at the start"
  echo "mode: $MODE; everything on 127.0.0.1, load generators sharing the CPUs with the servers"
}

print_table() {
  local i width=7 group="" measure
  # Sized to the measures; a group's heading is a line of its own and may run past it.
  for measure in "${ROW_MEASURE[@]}"; do ((${#measure} + 2 > width)) && width=$((${#measure} + 2)); done
  printf "%-${width}s | %14s | %14s | %s\n" "measure" "brokerd" "peer" "ratio brokerd/peer"
  printf "%s-|-%s-|-%s-|-%s\n" "$(printf '%*s' "$width" '' | tr ' ' -)" "--------------" "--------------" \
    "------------------"
  for i in "${!ROW_MEASURE[@]}"; do
    if [[ ${ROW_GROUP[$i]} != "$group" ]]; then
      group=${ROW_GROUP[$i]}
      echo "$group"
    fi
    printf "%-${width}s | %14s | %14s | %s\n" "  ${ROW_MEASURE[$i]}" \
      "$(format_value "${ROW_BROKERD[$i]}" "${ROW_UNIT[$i]}" "${ROW_BROKERD_CUT[$i]}")" \
      "$(format_value "${ROW_PEER[$i]}" "${ROW_UNIT[$i]}" "${ROW_PEER_CUT[$i]}")" \
      "$(ratio "${ROW_BROKERD[$i]}" "${ROW_PEER[$i]}")"
  done
  echo
  echo "Rates: ratio > 1 means brokerd is faster. Latencies (ms): ratio < 1 means brokerd is faster."
  echo "* cut short by its time limit: the rate of what was done in that time."
  local line
  for line in "${NOTES[@]}"; do echo "- $line"; done
}

json_string() {
  local text=$1
  text=${text//\\/\\\\}
  text=${text//\"/\\\"}
  text=${text//$'\t'/ }
  text=${text//$'\n'/ }
  printf '"%s"' "$text"
}

json_number() { if [[ -z $1 ]]; then printf null; else printf '%s' "$1"; fi; }

# write_json FILE: the same figures as the table, plus every command line run.
write_json() {
  local file=$1 i first
  {
    printf '{"date":%s,"mode":%s,' "$(json_string "$START_DATE")" "$(json_string "$MODE")"
    printf '"machine":{"nproc":%s,"cpu":%s,"kernel":%s,"load_at_start":%s,"dsync_write_us":%s},' "$(nproc)" \
      "$(json_string "$(machine_cpu)")" "$(json_string "$(uname -r)")" "$(json_string "$LOAD_AT_START")" \
      "$(json_number "$DSYNC_PROBE_US")"
    printf '"rows":['
    for i in "${!ROW_MEASURE[@]}"; do
      ((i > 0)) && printf ','
      local r
      r=$(ratio "${ROW_BROKERD[$i]}" "${ROW_PEER[$i]}")
      [[ $r == - ]] && r=""
      printf '{"group":%s,"measure":%s,"unit":%s,"brokerd":%s,"peer":%s,"ratio":%s,"brokerd_cut_short":%s,"peer_cut_short":%s}' \
        "$(json_string "${ROW_GROUP[$i]}")" "$(json_string "${ROW_MEASURE[$i]}")" \
        "$(json_string "$([[ ${ROW_UNIT[$i]} == ms ]] && echo ms || echo tasks/s)")" \
        "$(json_number "${ROW_BROKERD[$i]}")" "$(json_number "${ROW_PEER[$i]}")" "$(json_number "$r")" \
        "${ROW_BROKERD_CUT[$i]}" "${ROW_PEER_CUT[$i]}"
    done
    printf '],"notes":['
    first=1
    for i in "${NOTES[@]}"; do
      ((first)) || printf ','
      first=0
      json_string "$i"
    done
    printf '],"commands":['
    first=1
    for i in "${COMMANDS[@]}"; do
      ((first)) || printf ','
      first=0
      json_string "$i"
    done
    printf ']}\n'
  } >"$file"
}
