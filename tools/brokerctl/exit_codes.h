// brokerctl exit statuses. Shell scripts branch on these, so they are part of the CLI
// contract: change them only together with the --help footer in main.cc.
#pragma once

namespace brokerctl {

// every verb but result
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;     // bad command line, cannot connect, server error
inline constexpr int kExitNotFound = 2;  // no task with that id (or not in the dead-letter set)

// result: the task's outcome decides, so "the task failed" is not confused with "could not
// tell" (a script polling for a result retries on 2 and gives up on 1).
inline constexpr int kExitResultSuccess = 0;  // SUCCESS
inline constexpr int kExitResultFailed = 1;   // FAILURE or REVOKED
inline constexpr int kExitResultNone = 2;     // NOT_FOUND, not finished (yet), or any error

}  // namespace brokerctl
