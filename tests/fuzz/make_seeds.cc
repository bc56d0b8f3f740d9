// Writes the seed corpora of the fuzzers: one small input per request kind and per
// framing case, so a run starts from inputs that already pass the handshake and the
// validators instead of having to discover the protobuf encoding first.
//
//   fuzz_make_seeds tests/fuzz/corpus
//
// writes corpus/frame_decoder/*.bin and corpus/request_dispatcher/*.bin (overwriting
// files of the same name; it deletes nothing).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "dispatcher_input.h"
#include "frame_codec.h"

namespace {

using brokerd::v1::Envelope;
using brokerd::fuzz::append_record;
using brokerd::fuzz::kKeepId;
using brokerd::fuzz::kRaw;
using brokerd::fuzz::kUseLiveTask;

// frame_decoder_fuzzer's first byte picks the limit: index into its table.
constexpr char kLimit8 = 2;
constexpr char kLimit1024 = 4;
constexpr char kLimitDefault = 6;

Envelope ping() {
  Envelope e;
  e.mutable_ping()->set_payload("hi");
  return e;
}

Envelope enqueue(const std::string& queue, uint32_t max_retries = 0, int64_t countdown_ms = 0) {
  Envelope e;
  auto* task = e.mutable_enqueue()->mutable_task();
  task->set_name("tasks.add");
  task->set_queue(queue);
  task->set_args_json("[4, 4]");
  task->set_kwargs_json("{\"x\": null}");
  task->set_priority(5);
  task->set_countdown_ms(countdown_ms);
  task->mutable_retry()->set_max_retries(max_retries);
  task->mutable_retry()->set_backoff_base_ms(1);
  task->mutable_retry()->set_jitter(false);
  return e;
}

Envelope enqueue_batch() {
  Envelope e;
  for (const char* name : {"a", "b", "c"}) {
    auto* task = e.mutable_enqueue_batch()->add_tasks();
    task->set_name(name);
    task->set_queue("fz");
  }
  e.mutable_enqueue_batch()->mutable_tasks(1)->set_eta_ms(4102444800000);  // 2100-01-01
  return e;
}

Envelope consume(uint32_t prefetch = 4) {
  Envelope e;
  e.mutable_consume()->add_queues("fz");
  e.mutable_consume()->set_prefetch(prefetch);
  e.mutable_consume()->set_lease_ms(1000);
  return e;
}

Envelope complete_success() {
  Envelope e;
  e.mutable_complete()->mutable_success()->set_result_json("8");
  return e;
}

Envelope complete_failure() {
  Envelope e;
  auto* error = e.mutable_complete()->mutable_failure()->mutable_error();
  error->set_type("ZeroDivisionError");
  error->set_message("division by zero");
  return e;
}

Envelope complete_retry() {
  Envelope e;
  e.mutable_complete()->mutable_retry()->set_countdown_ms(5);
  e.mutable_complete()->mutable_retry()->mutable_reason()->set_type("Busy");
  return e;
}

Envelope heartbeat() {
  Envelope e;
  e.mutable_heartbeat();
  return e;
}

Envelope release() {
  Envelope e;
  e.mutable_release()->set_task_id("x");
  e.mutable_release()->set_lease_id(1);
  return e;
}

Envelope get_task() {
  Envelope e;
  e.mutable_get_task()->set_id("00000000-0000-4000-8000-000000000000");
  return e;
}

Envelope wait_result(int64_t timeout_ms) {
  Envelope e;
  e.mutable_wait_result()->set_id("x");
  e.mutable_wait_result()->set_timeout_ms(timeout_ms);
  return e;
}

Envelope queue_stats() {
  Envelope e;
  e.mutable_get_queue_stats()->add_queues("fz");
  return e;
}

Envelope revoke() {
  Envelope e;
  e.mutable_revoke()->set_id("x");
  return e;
}

Envelope purge() {
  Envelope e;
  e.mutable_purge()->set_queue("fz");
  e.mutable_purge()->set_limit(10);
  return e;
}

Envelope list_dead() {
  Envelope e;
  e.mutable_list_dead()->set_limit(5);
  return e;
}

Envelope dead_requeue_all() {
  Envelope e;
  e.mutable_dead_requeue()->set_all(true);
  e.mutable_dead_requeue()->set_queue("fz");
  return e;
}

Envelope dead_delete_ids() {
  Envelope e;
  e.mutable_dead_delete()->add_ids("x");
  return e;
}

Envelope list_tasks() {
  Envelope e;
  e.mutable_list_tasks()->set_queue("fz");
  e.mutable_list_tasks()->set_state(brokerd::v1::QUEUED);
  e.mutable_list_tasks()->set_limit(3);
  return e;
}

Envelope get_workers() {
  Envelope e;
  e.mutable_get_workers();
  return e;
}

Envelope server_stats() {
  Envelope e;
  e.mutable_get_server_stats();
  return e;
}

Envelope subscribe() {
  Envelope e;
  e.mutable_subscribe()->add_queues("fz");
  return e;
}

Envelope hello(uint32_t version) {
  Envelope e;
  e.mutable_hello()->set_protocol_version(version);
  e.mutable_hello()->set_client_name("seed");
  return e;
}

Envelope invalid_enqueue() {
  Envelope e = enqueue("fz");
  e.mutable_enqueue()->mutable_task()->set_args_json("[1,");
  e.mutable_enqueue()->mutable_task()->set_priority(42);
  return e;
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

// One record per step; `flags` as in dispatcher_input.h.
using Script = std::vector<std::pair<uint8_t, Envelope>>;

std::string script(const Script& steps) {
  std::string out;
  for (const auto& [flags, message] : steps) append_record(out, flags, message.SerializeAsString());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CORPUS_ROOT\n", argv[0]);
    return 2;
  }
  const std::filesystem::path root = argv[1];
  const auto decoder_dir = root / "frame_decoder";
  const auto dispatcher_dir = root / "request_dispatcher";
  std::filesystem::create_directories(decoder_dir);
  std::filesystem::create_directories(dispatcher_dir);

  const std::vector<std::pair<std::string, Envelope>> kinds = {
      {"hello", hello(1)},          {"ping", ping()},
      {"enqueue", enqueue("fz", 2)}, {"enqueue_batch", enqueue_batch()},
      {"consume", consume()},       {"complete_success", complete_success()},
      {"complete_failure", complete_failure()}, {"complete_retry", complete_retry()},
      {"heartbeat", heartbeat()},   {"release", release()},
      {"get_task", get_task()},
      {"wait_result", wait_result(10)}, {"get_queue_stats", queue_stats()},
      {"revoke", revoke()},         {"purge", purge()},
      {"list_dead", list_dead()},   {"dead_requeue", dead_requeue_all()},
      {"dead_delete", dead_delete_ids()}, {"list_tasks", list_tasks()},
      {"get_workers", get_workers()}, {"get_server_stats", server_stats()},
      {"subscribe", subscribe()},
  };

  // ---- frame decoder: [limit][chunking][stream] ------------------------------------
  std::string all_frames;
  for (const auto& [name, message] : kinds) {
    Envelope framed = message;
    framed.set_id(7);
    const std::string frame = brokerd::wire::encode_frame(framed);
    all_frames += frame;
    write_file(decoder_dir / (name + ".bin"), std::string{kLimitDefault, 0x11} + frame);
  }
  write_file(decoder_dir / "all_kinds_bytewise.bin", std::string{kLimitDefault, 0x00} + all_frames);
  write_file(decoder_dir / "all_kinds_repeated.bin", std::string{kLimitDefault, char(0x85)} + all_frames);
  // docs/protocol.md's example: Envelope { id: 1 ping { payload: "hi" } }.
  write_file(decoder_dir / "doc_ping.bin", std::string{kLimitDefault, 0x22} +
                                               std::string("\x00\x00\x00\x08\x08\x01\x6a\x04\x0a\x02\x68\x69", 12));
  write_file(decoder_dir / "empty_frame.bin", std::string{kLimitDefault, 0x01} + std::string(4, '\0'));
  write_file(decoder_dir / "too_large_default.bin", std::string{kLimitDefault, 0x01} + std::string("\x01\x00\x00\x01xx", 6));
  write_file(decoder_dir / "too_large_limit8.bin",
             std::string{kLimit8, 0x33} + brokerd::wire::encode_frame(enqueue("fz")));
  write_file(decoder_dir / "bad_body.bin", std::string{kLimit1024, 0x44} + std::string("\x00\x00\x00\x03\xff\xff\xff", 7));
  write_file(decoder_dir / "truncated.bin",
             std::string{kLimitDefault, 0x55} + brokerd::wire::encode_frame(enqueue("fz")).substr(0, 20));

  // ---- request dispatcher: records -----------------------------------------------
  const uint8_t live = kUseLiveTask;
  for (const auto& [name, message] : kinds) {
    if (name == "hello") continue;  // a second Hello: see second_hello below
    write_file(dispatcher_dir / (name + ".bin"), script({{0, message}}));
  }
  write_file(dispatcher_dir / "worker_success.bin",
             script({{0, enqueue("fz")}, {0, consume()}, {live, complete_success()}, {live, wait_result(100)},
                     {live, get_task()}}));
  write_file(dispatcher_dir / "worker_failure_dead.bin",
             script({{0, enqueue("fz")}, {0, consume(1)}, {live, complete_failure()}, {0, list_dead()},
                     {live, dead_requeue_all()}, {live, dead_delete_ids()}}));
  write_file(dispatcher_dir / "worker_retry.bin",
             script({{0, enqueue("fz", 3)}, {0, consume()}, {live, heartbeat()}, {live, complete_retry()},
                     {0, heartbeat()}}));
  write_file(dispatcher_dir / "worker_release.bin",
             script({{0, enqueue("fz")}, {0, consume(1)}, {live, release()}, {live, release()},
                     {live, complete_success()}, {live, get_task()}}));
  write_file(dispatcher_dir / "revoke_started.bin",
             script({{0, enqueue("fz")}, {0, consume()}, {live, revoke()}, {live, complete_success()}}));
  write_file(dispatcher_dir / "scheduled_then_purge.bin",
             script({{0, enqueue("fz", 0, 60000)}, {live, get_task()}, {0, enqueue_batch()}, {0, purge()},
                     {0, list_tasks()}}));
  write_file(dispatcher_dir / "subscribe_events.bin",
             script({{0, subscribe()}, {0, enqueue("fz")}, {0, consume()}, {live, complete_success()},
                     {0, get_workers()}, {0, server_stats()}}));
  write_file(dispatcher_dir / "second_hello.bin", script({{0, ping()}, {0, hello(1)}, {0, ping()}}));
  write_file(dispatcher_dir / "unsupported_version_hello.bin", script({{0, hello(2)}}));
  Envelope not_a_request;
  not_a_request.mutable_hello_ok()->set_protocol_version(1);
  write_file(dispatcher_dir / "not_requests.bin", script({{0, Envelope()}, {0, not_a_request}}));
  Envelope id_zero = ping();
  id_zero.set_id(0);
  Envelope id_seven = enqueue("fz");
  id_seven.set_id(7);
  write_file(dispatcher_dir / "kept_ids.bin", script({{kKeepId, id_zero}, {kKeepId, id_seven}, {kKeepId, id_seven}}));
  write_file(dispatcher_dir / "invalid_arguments.bin", script({{0, invalid_enqueue()}, {0, consume(0)}}));
  std::string bad;
  append_record(bad, 0, ping().SerializeAsString());
  append_record(bad, kRaw, std::string("\xff\xff\xff", 3));
  write_file(dispatcher_dir / "bad_frame.bin", bad);
  return 0;
}
