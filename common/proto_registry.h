/* Tables of the protobuf-c descriptors a binary was built with, generated per proto
 * library by cmake/registry.cmake, and lookups by fully-qualified proto name. */
#ifndef METRO_PROTO_REGISTRY_H
#define METRO_PROTO_REGISTRY_H

#include <protobuf-c/protobuf-c.h>

typedef struct proto_registry {
  const ProtobufCMessageDescriptor *const *messages; /* NULL-terminated */
  const ProtobufCEnumDescriptor *const *enums;       /* NULL-terminated */
  const ProtobufCServiceDescriptor *const *services; /* NULL-terminated */
} proto_registry;

/* Every descriptor of the standard protos and the production Metro protos. */
extern const proto_registry metro_proto_registry;
/* The test-only protos (test/proto), linked only into test binaries. */
extern const proto_registry metro_testing_registry;

/* Lookups by full name without a leading dot ("metro.auth.v1.User"); a leading dot is
 * tolerated. Each searches the registries given, NULL-terminated, in order. */
const ProtobufCMessageDescriptor *proto_registry_message(const proto_registry *const *regs,
                                                         const char *full_name);
const ProtobufCEnumDescriptor *proto_registry_enum(const proto_registry *const *regs,
                                                   const char *full_name);
const ProtobufCServiceDescriptor *proto_registry_service(const proto_registry *const *regs,
                                                         const char *full_name);

#endif
