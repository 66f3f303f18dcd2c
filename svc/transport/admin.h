/* The transport service's write handlers (admin; train status also staff): catalog writes
 * validated field by field, each publishing its events, plus trip upserts and GTFS import. */
#ifndef METRO_TRANSPORT_ADMIN_H
#define METRO_TRANSPORT_ADMIN_H

#include "common/rpc_server.h"

#define TR_ADMIN_HANDLER(name) rpc_status name(rpc_ctx *ctx, const ProtobufCMessage *msg, ProtobufCMessage **out)

TR_ADMIN_HANDLER(tr_admin_create_station);
TR_ADMIN_HANDLER(tr_admin_update_station);
TR_ADMIN_HANDLER(tr_admin_delete_station);
TR_ADMIN_HANDLER(tr_admin_create_line);
TR_ADMIN_HANDLER(tr_admin_update_line);
TR_ADMIN_HANDLER(tr_admin_delete_line);
TR_ADMIN_HANDLER(tr_admin_set_line_stations);
TR_ADMIN_HANDLER(tr_admin_create_train);
TR_ADMIN_HANDLER(tr_admin_update_train);
TR_ADMIN_HANDLER(tr_admin_delete_train);
TR_ADMIN_HANDLER(tr_admin_set_train_status);
TR_ADMIN_HANDLER(tr_admin_bulk_upsert_trips);
TR_ADMIN_HANDLER(tr_admin_import_gtfs);

#endif
