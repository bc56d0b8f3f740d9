// How brokerctl shows what the operator verbs return: the broker (`stats`), its workers
// (`workers`), task listings (`tasks`, `dead list`) and events (`watch`). Each has a
// --json shape for scripts and a human form; none does I/O beyond the stream given.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <brokerd/admin.h>
#include <brokerd/events.h>
#include <brokerd/task.h>

namespace brokerctl {

// {"version","started_ms","uptime_ms","connections","consumers","queues","sync","data_dir",
//  "disk_bytes","rss_bytes","totals":{queue_counts_to_json}}
nlohmann::ordered_json server_stats_to_json(const brokerd::ServerStats& stats);
// "key: value" lines, sizes in KiB/MiB/GiB, the uptime as "1d 02h 03m 04s".
void print_server_stats(std::ostream& out, const brokerd::ServerStats& stats);

// {"workers":[{"session_id","name","host","pid","queues":[...],"prefetch","in_flight",
//  "completed","failed","connected_ms","last_seen_ms"}]}
nlohmann::ordered_json workers_to_json(const std::vector<brokerd::WorkerInfo>& workers);
// NAME HOST PID QUEUES PREFETCH IN_FLIGHT COMPLETED FAILED CONNECTED LAST_SEEN; the last
// two as ages relative to `now_ms` ("3m 12s", "2s ago").
void print_workers_table(std::ostream& out, const std::vector<brokerd::WorkerInfo>& workers,
                         int64_t now_ms);

// ID NAME STATE ATTEMPTS CREATED WORKER, one row per task (`tasks`).
void print_task_table(std::ostream& out, const std::vector<brokerd::TaskInfo>& tasks);
// ID NAME QUEUE FAILED ATTEMPTS ERROR, one row per dead task (`dead list`).
void print_dead_table(std::ostream& out, const std::vector<brokerd::TaskInfo>& tasks);

// One event as a compact JSON object: {"kind","at_ms","task_id","task_name","queue",
// "attempt","worker","runtime_ms","error","host","pid"}; absent strings and the error
// are null. A gap is {"kind":"EVENTS_MISSED","count":N}.
nlohmann::ordered_json event_to_json(const brokerd::Event& event);
nlohmann::ordered_json events_missed_to_json(const brokerd::EventsMissed& missed);
// One line, no newline: "<UTC time>  TASK_SUCCEEDED  <queue> <name> <id> attempt=1
// worker=w runtime=12ms"; a gap is "... N events missed".
std::string event_line(const brokerd::Event& event);
std::string events_missed_line(const brokerd::EventsMissed& missed);

// 1536 -> "1.5 KiB"; below 1 KiB "123 B".
std::string format_bytes(uint64_t bytes);
// 3723004 ms -> "1h 02m 03s"; under a minute "42s"; over a day "2d 03h 04m".
std::string format_duration_ms(int64_t ms);

}  // namespace brokerctl
