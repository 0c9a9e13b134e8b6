/* `gvoip fleet-key` and `gvoip fleet-sign`: a fleet's own key and the
 * certificates it signs for its nodes, from the command line; and the
 * certificate a node shows (`gvoip server --fleet-cert`). */
#ifndef GVOIP_FLEETCERT_H
#define GVOIP_FLEETCERT_H

#include <stdint.h>

#include "options.h"

/* Makes the fleet's key pair: the secret key into opt->out_file (0600),
 * the public one into opt->out_file.pub (0644), and prints the public
 * key's fingerprint (what players pin with --fleet-key). Returns an exit
 * code. */
int fleet_key_command(const gvoip_options *opt);

/* Signs, with the fleet's secret key in opt->server.key_file, the
 * certificate of the node whose server key file is opt->node_key_file,
 * into opt->out_file, and prints what it says. Returns an exit code. */
int fleet_sign_command(const gvoip_options *opt);

/* Reads the certificate file at path into cert (GV_FLEETCERT_BYTES) and
 * says what it is on stdout (a fleet_cert event with json), noting when
 * it is not valid now (players then refuse the node). Returns an exit
 * code, having said why on stderr when it is not EXIT_OK. */
int fleet_cert_load(const char *path, int json, uint8_t cert[GV_FLEETCERT_BYTES]);

#endif
