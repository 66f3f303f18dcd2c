/* gRPC start-up (see grpc_runtime.h). Debian builds Abseil without NDEBUG, which leaves its
 * mutex deadlock detector on: every lock the C core takes updates a lock graph and a stack trace. */
#include "common/grpc_runtime.h"

#include <dlfcn.h>
#include <grpc/grpc.h>
#include <pthread.h>

#include "common/log.h"

/* absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore): a C++ function, found by
 * its mangled name in the Abseil the C core loaded (Debian's inline namespace first). Upstream
 * release builds of Abseil (NDEBUG) start in this mode; detection is a debugging aid that
 * reports lock-order cycles, it guards nothing. Missing symbol: nothing changes. */
static const char *const set_mode_symbols[] = {
    "_ZN4absl7debian329SetMutexDeadlockDetectionModeENS0_15OnDeadlockCycleE",
    "_ZN4absl29SetMutexDeadlockDetectionModeENS_15OnDeadlockCycleE",
};
enum { ABSL_ON_DEADLOCK_CYCLE_IGNORE = 0 };

static pthread_once_t tuned = PTHREAD_ONCE_INIT;

static void tune_once(void) {
  for (size_t i = 0; i < sizeof set_mode_symbols / sizeof *set_mode_symbols; i++) {
    void *sym = dlsym(RTLD_DEFAULT, set_mode_symbols[i]);
    if (!sym) continue;
    void (*set_mode)(int);
    *(void **)&set_mode = sym; /* POSIX: a dlsym result converts to a function pointer this way */
    set_mode(ABSL_ON_DEADLOCK_CYCLE_IGNORE);
    return;
  }
  log_debug("grpc_runtime: Abseil's deadlock detection setting not found; left as built");
}

void grpc_runtime_init(void) {
  pthread_once(&tuned, tune_once);
  grpc_init();
}
