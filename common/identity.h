/* The caller identity the gateway vouches for, as gRPC metadata services can trust:
 * x-metro-identity = "<user_id>;<role,role>;<expiry unix s>" and x-metro-identity-sig =
 * base64url(HMAC-SHA256(secret, identity)). Only holders of the secret can mint it. The
 * client's IP address travels the same way in its own pair (x-metro-client-ip), signed with a
 * distinct prefix so neither signature can ever pass for the other. */
#ifndef METRO_IDENTITY_H
#define METRO_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/rpc_server.h"

#define IDENTITY_HEADER "x-metro-identity"
#define IDENTITY_SIG_HEADER "x-metro-identity-sig"
#define CLIENT_IP_HEADER "x-metro-client-ip"
#define CLIENT_IP_SIG_HEADER "x-metro-client-ip-sig"
/* The longest IP literal accepted (an IPv6 address with an embedded IPv4 one). */
#define CLIENT_IP_MAX 45

/* Builds the identity value and its signature into the arena. False (both set to NULL) when
 * the input cannot be encoded: no secret, an empty user_id or one with ';' or ',', more than
 * RPC_MAX_ROLES roles, an empty role or one with ';' or ',', or a value over 1 KiB. */
bool identity_sign(arena *a, const char *secret, const char *user_id, const char *const *roles,
                   int n_roles, int64_t expires_unix, const char **value, const char **sig);

/* Verifies sig over value in constant time and that it has not expired at now_unix;
 * fills out (pointing into arena copies). False when anything is off. */
bool identity_verify(arena *a, const char *secret, const char *value, const char *sig,
                     int64_t now_unix, rpc_identity *out);

/* The client address the gateway vouches for: value = "<ip>;<expiry unix s>" and sig =
 * base64url(HMAC-SHA256(secret, "client-ip:" + value)), into the arena. The IP is written in
 * its canonical form (client_ip_canonical). False (both NULL) without a secret, for anything
 * but an IPv4 or IPv6 literal of at most CLIENT_IP_MAX characters, or an expiry that is negative
 * or over 18 digits. */
bool client_ip_sign(arena *a, const char *secret, const char *ip, int64_t expires_unix, const char **value,
                    const char **sig);

/* Verifies sig over value in constant time, that it has not expired at now_unix and that the
 * address is an IPv4 or IPv6 literal; *ip is its canonical form in the arena. False (and *ip
 * NULL) when anything is off. */
bool client_ip_verify(arena *a, const char *secret, const char *value, const char *sig, int64_t now_unix,
                      const char **ip);

/* The canonical text of an IP literal of n bytes into out: IPv4 dotted quad, IPv6 as
 * inet_ntop writes it, an IPv4-mapped IPv6 address as its IPv4 form. False for anything else
 * (host names, zones, ports, brackets, over CLIENT_IP_MAX characters). */
bool client_ip_canonical(const char *text, size_t n, char out[CLIENT_IP_MAX + 1]);

/* The host of a gRPC peer string (grpc_call_get_peer) as the client address:
 * "ipv4:127.0.0.1:5555" -> "127.0.0.1", "ipv6:[::1]:5555" (or percent-encoded brackets) ->
 * "::1", "unix:..." -> "unix"; "unknown" for anything else. Never NULL: an arena copy or a
 * static string. */
const char *client_ip_from_peer(arena *a, const char *peer);

#endif
