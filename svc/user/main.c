/* metro-user: passenger, staff and admin profiles (domain spec §2). Serves
 * metro.user.v1.UserService, consumes user.created and user.deleted, and publishes
 * profile deletions and staff status changes through its outbox. */
#include "common/service.h"
#include "svc/user/user.h"

extern const pg_migration *const user_migrations;

int main(void) {
  const ev_consumer_config group = {.group = "user", .subs = user_subscriptions, .n_subs = user_n_subscriptions};
  service_def def = {
      .name = "user",
      .default_grpc_addr = "127.0.0.1:50052",
      .default_metrics_port = 9102,
      .migrations = user_migrations,
      .services = &user_service_impl,
      .n_services = 1,
      .produces_events = true,
      .consumers = &group,
      .n_consumers = 1,
  };
  return service_run(&def);
}
