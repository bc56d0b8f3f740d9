// The queue engine: task lifecycle, ready indexes, consumers and their leases, delays,
// retries, result expiry and waiters. No Asio and no RocksDB: it writes through Storage
// and reads time from Clock, so tests drive it directly with a ManualClock.
//
// Thread safety: every public method is thread-safe (one internal mutex). Callbacks into
// the network layer (DeliverySink::deliver, ResultWaiter) run with that mutex held and
// must only queue work; they must never call back into the Engine.
//
// Durability: a mutating call leaves its changes in a pending batch, shared by all
// callers, and returns a write ticket: the sequence number of the storage write that will
// carry them. flush() writes everything pending as one write (visible at once, not yet
// durable); a session calls it once per read from its socket, so a pipelined connection's
// requests cost one write, not one each. The caller must not confirm anything to a client
// until it has flushed and the committer reports the ticket durable.
//
// Leases live in memory only. A delivery writes nothing: the stored record stays QUEUED
// and keeps its ready-index key, and readers see the lease laid over it (STARTED, the
// attempt, the worker, the deadline). A crash voids every lease anyway, and with the
// key still in place recovery has nothing to requeue. The key is deleted when the task
// completes, in the same write as its outcome.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "broker.pb.h"
#include "common/clock.h"
#include "common/status.h"
#include "engine/rate_window.h"
#include "engine/ready_window.h"
#include "events/event_hub.h"
#include "metrics/histogram.h"
#include "engine/task_rules.h"
#include "storage/storage.h"

namespace brokerd::server {

struct EngineOptions {
  TaskLimits limits;
  int64_t default_lease_ms = 30'000;
  int64_t min_lease_ms = 1'000;
  int64_t max_lease_ms = 3'600'000;
  size_t ready_window = 4096;  // keys of each queue's head kept in memory
  size_t timer_batch = 1024;   // tasks promoted or expired per timer pass
  // Unfinished tasks (ready, scheduled, running, waiting to retry) one queue may hold;
  // an enqueue beyond it is refused with ResourceExhausted so that producers back off.
  uint64_t max_queue_length = 50'000'000;
  // Bounds on what one consumer may ask for: its prefetch credit and the queues it names.
  // Expired leases stay on a consumer's credit until reported, so they are bounded by
  // max_prefetch too.
  uint32_t max_prefetch = 10'000;
  size_t max_consume_queues = 100;
  // Leases lost in a row after which a task ends FAILURE DeliveryLimitExceeded (a task's
  // own TaskSpec.max_deliveries wins).
  uint32_t max_deliveries = 20;
  // A queue with no tasks (unfinished or dead) and no consumers is forgotten after being
  // so for this long (memory, and its stored counters): memory and start-up stay
  // O(queues live within it). Its lifetime counters go with it.
  int64_t idle_queue_ttl_ms = 300'000;
  // After a storage write error: first retry of recovery after the min, doubling up to
  // the max while the cause (a full disk) persists.
  int64_t recovery_backoff_min_ms = 100;
  int64_t recovery_backoff_max_ms = 5'000;
};

// The network side of one consumer. deliver() is called with the engine lock held, from
// any thread: implementations only queue the frame.
class DeliverySink {
 public:
  virtual ~DeliverySink() = default;
  virtual void deliver(v1::Delivery delivery) = 0;
  // An operator revoked a task this consumer holds: tell the worker to stop running it.
  virtual void revoked(const std::string& task_id, uint64_t lease_id) = 0;
  // False while the connection holds more unwritten bytes than it should: deliveries to
  // it pause (its tasks stay ready for other consumers) until Engine::resume_deliveries.
  virtual bool accepting() const { return true; }
};

// Who a consumer is, for operators (`brokerctl workers`) and worker events.
struct ConsumerIdentity {
  std::string name;
  std::string host;
  uint32_t pid = 0;
  std::string session_id;
};

// Runs with the engine lock held once a waited-for task is terminal. Reply to the client
// only after `ticket` is durable.
using ResultWaiter = std::function<void(const v1::TaskRecord& task, uint64_t ticket)>;

using ConsumerId = uint64_t;
using WaiterId = uint64_t;

struct EnqueueOutcome {
  std::string id;
  v1::TaskState state = v1::TASK_STATE_UNSPECIFIED;
  bool created = false;
};

struct RevokeOutcome {
  v1::TaskState state = v1::TASK_STATE_UNSPECIFIED;  // REVOKED, or the terminal state it had
  bool was_started = false;
};

struct PurgeOutcome {
  uint64_t removed = 0;
  uint64_t remaining = 0;
};

struct DeadOpOutcome {
  uint64_t count = 0;
  std::vector<std::string> not_dead_ids;
};

struct TaskListing {
  std::vector<v1::TaskRecord> tasks;
  bool truncated = false;
};

// Everything /metrics and `brokerctl stats` report from the engine, taken in one lock.
struct EngineSnapshot {
  std::vector<v1::QueueStats> queues;
  uint64_t consumers = 0;
  uint64_t enqueued_total = 0;
  uint64_t delivered_total = 0;
  uint64_t succeeded_total = 0;
  uint64_t failed_total = 0;
  uint64_t retried_total = 0;
  uint64_t revoked_total = 0;
  uint64_t requeued_total = 0;  // leases lost (connection closed, expired or released)
  uint64_t read_errors_total = 0;  // storage reads that failed (not NOT_FOUND); nothing was dropped
  // Seconds from ready (enqueued, due, or requeued) to delivery; from delivery to outcome.
  metrics::HistogramSnapshot queue_wait;
  metrics::HistogramSnapshot run_time;
};

struct HeartbeatOutcome {
  int64_t lease_deadline_ms = 0;
  std::vector<std::string> lost_task_ids;
};

class Engine {
 public:
  Engine(Storage& storage, const Clock& clock, EngineOptions options);
  ~Engine();

  // Recovers state from storage: counters, sequence, delayed and expiry heads; tasks that
  // were leased when the server stopped are queued again. Call once before anything else.
  Status open();

  // OK, or why writes are refused right now. After a storage write or sync fails (disk
  // full: ResourceExhausted; anything else: Internal) the engine is degraded: every write
  // is refused with this error while reads keep working, and recovery is retried with a
  // backoff (timer pass or next write): Storage::recover(), then memory is rebuilt from
  // disk as at start. Every lease is lost then (the tasks are QUEUED again, late
  // completions get STALE_LEASE). See engine_recovery.cc.
  Status write_refusal();
  // OK, or the last storage read error (I/O, corruption) if one happened within the last
  // minute: /readyz reports it. A read error never drops an index entry; the task stays
  // where it is and is tried again.
  Status read_health();

  // Writes every pending change (from any caller) as one storage write and runs the
  // waiters of tasks that finished in it. Cheap when nothing is pending.
  Status flush();
  // The sequence number of the last storage write (by anyone): a ticket to sync.
  uint64_t last_written_ticket() const { return storage_.last_written_seq(); }

  // ---- producers ------------------------------------------------------------------
  Result<EnqueueOutcome> enqueue(const v1::TaskSpec& spec, uint64_t& ticket);
  // All or nothing; an invalid spec fails the batch with its index in the message.
  Result<std::vector<EnqueueOutcome>> enqueue_batch(const std::vector<const v1::TaskSpec*>& specs,
                                                    uint64_t& ticket);

  // ---- consumers ------------------------------------------------------------------
  ConsumerId register_consumer(std::shared_ptr<DeliverySink> sink, ConsumerIdentity identity);
  // Sets (or replaces) what the consumer receives. Returns the lease length in force.
  // InvalidArgument past max_prefetch or max_consume_queues.
  Result<int64_t> consume(ConsumerId consumer, const std::vector<std::string>& queues,
                          uint32_t prefetch, int64_t lease_ms);
  // The consumer is gone: every task it holds counts a lost lease (see lose_lease).
  void unregister_consumer(ConsumerId consumer);
  // The broker is stopping: from now on nothing is delivered, and a closing consumer's
  // leases are dropped in memory only, as a crash would: their records are still QUEUED
  // in place on disk, so the next start queues them again without counting a lost
  // delivery (the worker did nothing wrong).
  void begin_shutdown();
  // The consumer's connection has room again (DeliverySink::accepting): deliver to it.
  void resume_deliveries(ConsumerId consumer);
  // Records an outcome for a task the consumer holds under `request.lease_id`. Returns
  // the task's new state. NotFound for an unknown task, StaleLease for any other lease.
  Result<v1::TaskState> complete(ConsumerId consumer, const v1::Complete& request, uint64_t& ticket);
  // Gives back a task the consumer holds under `request.lease_id`, without an outcome:
  // it is QUEUED again at once in its place, as if the connection had closed (the
  // delivery counts as an attempt), and the consumer's credit for it is freed. Other
  // consumers with credit are offered it before this one. Returns QUEUED. InvalidArgument
  // before any consume(); NotFound and StaleLease as for complete(), and a stale release
  // of an expired lease frees the credit that lease still used, as a late completion does.
  Result<v1::TaskState> release(ConsumerId consumer, const v1::Release& request, uint64_t& ticket);
  Result<HeartbeatOutcome> heartbeat(ConsumerId consumer, const std::vector<std::string>& task_ids);

  // ---- readers ----------------------------------------------------------------------
  // Every reader sets `ticket` to the write its answer may reflect: reply only once it is
  // durable, so no answer shows a state a crash could take back. A non-empty `required_owner`
  // (a producer reading) makes a task enqueued by anyone else PermissionDenied.
  Result<v1::TaskRecord> get_task(const std::string& id, uint64_t& ticket, std::string_view required_owner = {});
  // A terminal task's record at once; otherwise registers `waiter` (returns nullopt and
  // sets `waiter_id`). NotFound for an unknown id; `required_owner` as for get_task.
  Result<std::optional<v1::TaskRecord>> wait_result(const std::string& id, ResultWaiter waiter,
                                                    WaiterId& waiter_id, uint64_t& ticket,
                                                    std::string_view required_owner = {});
  // False when the waiter already ran (or never existed).
  bool cancel_wait(WaiterId waiter_id);
  std::vector<v1::QueueStats> queue_stats(const std::vector<std::string>& names);

  // ---- operators (engine_admin.cc) ---------------------------------------------------
  // Cancels a task (see Revoke in broker.proto). Sets `ticket` like a write.
  Result<RevokeOutcome> revoke(const std::string& id, uint64_t& ticket);
  // Revokes up to `limit` ready tasks of `queue`, head first.
  Result<PurgeOutcome> purge(const std::string& queue, size_t limit, uint64_t& ticket);
  // Dead-letter set, oldest first; `queue` empty = every queue.
  Result<std::vector<v1::TaskRecord>> dead_list(const std::string& queue, size_t limit, uint64_t& ticket);
  // The named dead tasks, or (`ids` empty) up to `limit` of `queue`'s (every queue when
  // empty): queued again with retries reset, or deleted.
  Result<DeadOpOutcome> dead_requeue(const std::vector<std::string>& ids, const std::string& queue, size_t limit,
                                     uint64_t& ticket);
  Result<DeadOpOutcome> dead_delete(const std::vector<std::string>& ids, const std::string& queue, size_t limit,
                                    uint64_t& ticket);
  // Tasks of `queue`, newest first, in `state` (UNSPECIFIED = any). Reads at most
  // `scan_budget` records, newest ids first (generated ids are time-ordered).
  Result<TaskListing> list_tasks(const std::string& queue, v1::TaskState state, size_t limit, uint64_t& ticket,
                                 size_t scan_budget = 200'000);
  std::vector<v1::WorkerInfo> workers();
  EngineSnapshot snapshot();
  EventHub& events() { return events_; }

  // ---- time ---------------------------------------------------------------------------
  // Promotes due delayed tasks, requeues expired leases, deletes expired results.
  // Returns how long (ms) until the next known deadline, at most `max_sleep_ms`.
  int64_t run_timers(int64_t max_sleep_ms = 1000);
  // Called (engine lock held; only queue work) when something becomes due earlier than
  // any deadline known before, so the timer can be re-armed.
  void set_wakeup_hook(std::function<void(int64_t due_ms)> hook);

 private:
  struct QueueState {
    QueueState(const std::string& name, size_t window_capacity);
    std::string name;
    ReadyWindow window;
    v1::QueueCounters counters;
    RateWindow enqueued;
    RateWindow completed;
    RateWindow failed;
    std::vector<ConsumerId> consumers;
    size_t next_consumer = 0;  // round-robin cursor
    int64_t idle_since = kNotIdle;  // steady clock, while queue_is_idle()
  };
  static constexpr int64_t kNotIdle = INT64_MIN;
  struct Consumer {
    ConsumerId id = 0;
    std::shared_ptr<DeliverySink> sink;
    ConsumerIdentity identity;
    int64_t connected_ms = 0;
    int64_t last_seen_ms = 0;
    uint64_t completed = 0;
    uint64_t failed = 0;
    bool announced = false;  // WORKER_ONLINE sent (at its first consume)
    std::vector<std::string> queues;
    uint32_t prefetch = 0;
    int64_t lease_ms = 0;
    std::unordered_set<std::string> leased;
    // Leases that ran out while this consumer still had them (lease id -> task id): the
    // worker is presumably still busy (or hung) with them, so they keep using its credit
    // until it reports on them (its completion is answered STALE_LEASE, or a heartbeat
    // names the task and learns it lost) or disconnects. Bounded by its prefetch: a lease
    // only moves here from `leased`, and a delivery needs credit.
    std::unordered_map<uint64_t, std::string> expired_leases;
    size_t next_queue = 0;  // round-robin cursor over `queues`
    bool has_credit() const { return leased.size() + expired_leases.size() < prefetch && sink->accepting(); }
  };
  // Lease times are on the steady clock (Clock::steady_ms) unless named _wall.
  struct Lease {
    ConsumerId consumer = 0;
    uint64_t lease_id = 0;
    int64_t deadline = 0;
    int64_t started_wall_ms = 0;
    // started + the task's time_limit_ms: the lease is never extended past it (INT64_MAX
    // when the task has no time limit).
    int64_t hard_deadline = INT64_MAX;
    std::string ready_key;  // the task's ready-index entry, still on disk while leased
  };
  // Why a lease ended without an outcome.
  enum class LeaseLoss { kExpired, kDisconnected, kReleased };

  // Operation plumbing (engine_operation.cc). Everything below runs under mutex_.
  // OK, or the typed refusal while degraded (tries to recover first when it is time).
  Status check_writable();
  // The ticket a reader's answer waits for; 0 (none) while degraded.
  uint64_t read_ticket();
  // The task as clients see it: the stored record with its lease (if any) laid over it.
  Result<v1::TaskRecord> load_task(const std::string& id);
  void apply_lease(v1::TaskRecord& task, const Lease& lease) const;
  void save_task(const v1::TaskRecord& task);
  void erase_task(const std::string& id);
  QueueState& queue_state(const std::string& name);
  // The task, unless `required_owner` is set and is not its owner (PermissionDenied).
  Result<v1::TaskRecord> load_owned_task(const std::string& id, std::string_view required_owner);
  // ResourceExhausted when `adding` more tasks would take `queue` past max_queue_length.
  Status check_queue_room(const std::string& queue, uint64_t adding) const;
  // The ticket of what is pending now (the last write's when nothing is).
  uint64_t pending_ticket() const;
  bool has_pending() const;
  Status write_pending();
  // Sequence numbers are reserved in blocks: storage holds a bound above every number
  // handed out, rewritten once per block instead of on every operation. Recovery
  // resumes at the bound, so numbers are never reused (gaps are harmless).
  static constexpr uint64_t kSeqBlock = 1 << 20;
  void take_seq_block() {
    seq_limit_ = next_seq_ + kSeqBlock;
    seq_dirty_ = true;
  }
  uint64_t take_seq() {
    if (next_seq_ >= seq_limit_) take_seq_block();
    return next_seq_++;
  }
  // A lease id, from the same sequence, but only below a bound already durable: a lease
  // id goes to a worker without any write, so after a crash (kill -9 included) recovery
  // must resume above every id handed out. Costs one write and sync per block. 0 when
  // the bound could not be made durable (the engine is degraded then).
  uint64_t take_lease_id();
  // The wall-clock time (Unix ms) of a steady-clock instant, for clients.
  int64_t wall_of(int64_t steady) const { return clock_.now_ms() + (steady - clock_.steady_ms()); }

  // Counts and logs a failed read (not NOT_FOUND) and keeps it for read_health().
  void note_read_error(const std::string& what, const Status& status);
  // Nothing in it (no unfinished or dead tasks) and no consumers.
  bool queue_is_idle(const QueueState& queue) const;
  // Notes which queues just became idle and forgets those idle for idle_queue_ttl_ms.
  // Only where no QueueState reference is held: at the end of a public operation.
  void forget_idle_queues();

  // Start and degraded mode (engine_recovery.cc).
  Status load_state(bool probe);
  bool degraded() const { return !degraded_.ok(); }
  // Refuses writes from now on, for `cause`; drops what is pending.
  void enter_degraded(const Status& cause);
  // Degrades when the store reports a write error the engine has not seen (a failed sync).
  void note_storage_error();
  // Drops pending changes; a ticket anyone holds for them fails (see WriteFailures).
  void abandon_pending();
  void try_recover();
  void drop_memory_state();

  // Enqueue (engine.cc).
  Result<EnqueueOutcome> enqueue_locked(const v1::TaskSpec& spec, bool dispatch = true);

  // Task transitions (engine_transitions.cc).
  void make_ready(v1::TaskRecord& task, uint64_t index_seq);
  void make_delayed(v1::TaskRecord& task, v1::TaskState state, int64_t due_ms);
  void make_terminal(v1::TaskRecord& task, v1::TaskState state);
  void note_due(int64_t due_ms, const std::string& delayed_key);
  void note_expiry(int64_t expires_ms, const std::string& expiry_key);

  // OK if `consumer` holds `lease_id` on `task_id`; else NotFound or StaleLease, after
  // freeing the credit of that lease if it had expired (complete and release share it).
  Status check_lease_held(ConsumerId consumer, const std::string& task_id, uint64_t lease_id);

  // Delivery (engine_delivery.cc).
  // Delivers the queue's ready tasks to its consumers with credit; `skip` (a consumer
  // that just gave a task back) gets nothing from this call.
  void dispatch_queue(QueueState& queue, ConsumerId skip = 0);
  void dispatch_consumer(Consumer& consumer);
  bool deliver_one(QueueState& queue, Consumer& consumer);
  std::optional<ReadyWindow::Entry> pop_ready(QueueState& queue);
  // Forgets the lease; returns the task's ready key (empty when there was no lease).
  std::string release_lease(const std::string& task_id);
  // The lease on `task_id` ended without an outcome. The lost delivery counts (attempts,
  // lost_leases); past the task's max_deliveries, or when an expiry hit its time limit,
  // the task ends FAILURE. Otherwise a release puts it back in its place at once, and an
  // expiry or a closed connection makes it RETRY after the retry policy's backoff.
  // Returns the task's queue when it is ready again (the caller dispatches).
  std::optional<std::string> lose_lease(const std::string& task_id, LeaseLoss loss);
  void detach_consumer_from_queues(Consumer& consumer);

  // Operators (engine_admin.cc).
  void revoke_locked(v1::TaskRecord& task, RevokeOutcome& outcome);
  void remove_from_delay_index(const v1::TaskRecord& task);
  std::vector<std::string> dead_ids(const std::string& queue, size_t limit);
  Result<DeadOpOutcome> dead_apply(const std::vector<std::string>& ids, const std::string& queue, size_t limit,
                                   bool requeue, uint64_t& ticket);
  v1::QueueStats describe_queue(const std::string& name, const QueueState* queue, int64_t now) const;

  // Events and the debug log of transitions (engine_events.cc). Cheap when nobody listens.
  void emit_task_event(v1::EventKind kind, const v1::TaskRecord& task, const std::string& worker = {});
  void emit_worker_event(v1::EventKind kind, const Consumer& consumer);

  // Timers (engine_timers.cc).
  void promote_due(int64_t now);
  void expire_leases(int64_t steady_now);
  void expire_results(int64_t now);
  int64_t peek_first_time(Family family, const std::string& from);

  Storage& storage_;
  const Clock& clock_;
  const EngineOptions options_;

  mutable std::mutex mutex_;
  // All below GUARDED_BY(mutex_).
  std::mt19937_64 random_;
  uint64_t next_seq_ = 1;
  uint64_t seq_limit_ = 1;  // persisted bound: every number handed out is below it
  uint64_t durable_seq_limit_ = 0;  // the part of that bound known synced (lease ids stay below)
  bool seq_dirty_ = false;
  // OK, or the refusal every write gets while degraded (memory may be ahead of disk).
  Status degraded_;
  int64_t next_recovery_ms_ = 0;
  int64_t recovery_backoff_ms_ = 0;
  bool recovering_ = false;  // inside try_recover(): failures there are expected, quiet
  std::map<std::string, std::unique_ptr<QueueState>, std::less<>> queues_;
  std::unordered_map<ConsumerId, Consumer> consumers_;
  ConsumerId next_consumer_id_ = 1;
  std::unordered_map<std::string, Lease> leases_;
  std::set<std::pair<int64_t, std::string>> lease_deadlines_;  // steady clock
  Status last_read_error_;
  int64_t last_read_error_at_ = 0;  // steady clock
  std::set<std::string> idle_candidates_;  // queues that may have become idle since the last forget
  std::set<std::pair<int64_t, std::string>> idle_queues_;  // (idle_since, name), oldest first
  bool shutting_down_ = false;
  std::string delayed_scan_from_;
  int64_t next_due_ms_ = INT64_MAX;
  std::string expiry_scan_from_;
  int64_t next_expiry_ms_ = INT64_MAX;
  std::unordered_map<std::string, std::vector<std::pair<WaiterId, ResultWaiter>>> waiters_;
  std::unordered_map<WaiterId, std::string> waiter_tasks_;
  WaiterId next_waiter_id_ = 1;
  std::function<void(int64_t)> wakeup_hook_;
  EngineSnapshot totals_;  // the lifetime counters of snapshot(), since start
  metrics::Histogram queue_wait_;
  metrics::Histogram run_time_;
  EventHub events_;

  // Pending changes, shared by all callers until the next write_pending(): one batch,
  // the records it holds, queues whose counters changed, terminal tasks whose waiters run
  // once the batch is written.
  std::unique_ptr<WriteSet> batch_;
  std::unordered_map<std::string, v1::TaskRecord> op_records_;
  std::set<std::string> op_dirty_queues_;
  std::vector<v1::TaskRecord> op_finished_;
};

}  // namespace brokerd::server
