// broker-torture: crash torture for brokerd. See options.cc for usage, controller.h for
// the phases of a run and checker.h for what is checked.

#include "controller.h"
#include "options.h"
#include "producer.h"
#include "worker_role.h"

int main(int argc, char** argv) {
  torture::Options options;
  if (const int status = torture::parse_options(argc, argv, options); status >= 0) return status;
  switch (options.role) {
    case torture::Role::kProducer: return torture::run_producer(options.child);
    case torture::Role::kWorker: return torture::run_worker(options.child);
    case torture::Role::kController: break;
  }
  return torture::run_controller(options.controller);
}
