/* Name lookups over the generated descriptor tables (see proto_registry.h).
 * Linear scans: they run at start-up only, when routes and handlers are bound. */
#include "common/proto_registry.h"

#include <string.h>

static const char *strip_dot(const char *name) { return name[0] == '.' ? name + 1 : name; }

#define REGISTRY_FIND(type, field)                                   \
  name = strip_dot(name);                                            \
  for (; *regs; regs++)                                              \
    for (const type *const *d = (*regs)->field; *d; d++)             \
      if (strcmp((*d)->name, name) == 0) return *d;                  \
  return NULL

const ProtobufCMessageDescriptor *proto_registry_message(const proto_registry *const *regs,
                                                         const char *name) {
  REGISTRY_FIND(ProtobufCMessageDescriptor, messages);
}

const ProtobufCEnumDescriptor *proto_registry_enum(const proto_registry *const *regs,
                                                   const char *name) {
  REGISTRY_FIND(ProtobufCEnumDescriptor, enums);
}

const ProtobufCServiceDescriptor *proto_registry_service(const proto_registry *const *regs,
                                                         const char *name) {
  REGISTRY_FIND(ProtobufCServiceDescriptor, services);
}
