#include "fleetcert.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "output.h"
#include "token.h"

/* More than a key's text with a newline and some white space around it:
 * a longer file is not a key. */
#define KEY_FILE_MAX 256
/* Likewise for a certificate's text. */
#define CERT_FILE_MAX 512
#define DAY_S 86400
/* A fresh certificate starts this far in the past, so that a player whose
 * clock is a little behind the issuer's does not refuse it. */
#define CLOCK_SLACK_S 3600
#define FLEET_SECRET "a fleet's secret key (gvoip fleet-key writes one)"

int fleet_key_command(const gvoip_options *opt)
{
    char secret[GV_TOKEN_KEY_BYTES], public_key[GV_TOKEN_KEY_BYTES], fp[GV_FINGERPRINT_BYTES];
    char pub_path[4096];
    int code = EXIT_RUNTIME;
    if (snprintf(pub_path, sizeof pub_path, "%s.pub", opt->out_file) >= (int)sizeof pub_path) {
        output_error(0, "the path %s is too long", opt->out_file);
        return EXIT_USAGE;
    }
    if (gv_fleetcert_keypair(secret, sizeof secret, public_key, sizeof public_key, fp, sizeof fp) != 0) {
        output_error(0, "cannot make a key pair");
        goto out;
    }
    if (token_write_pair(opt->out_file, pub_path, secret, public_key) != 0)
        goto out;
    if (opt->json)
        printf("{\"fingerprint\":\"%s\"}\n", fp);
    else
        printf("%s\n", fp);
    code = fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
out:
    sodium_memzero(secret, sizeof secret);
    return code;
}

/* "2026-01-01T00:00:00Z" */
static void utc(uint64_t t, char *out, size_t len)
{
    struct tm tm;
    time_t tt = (time_t)t;
    if ((uint64_t)tt != t || !gmtime_r(&tt, &tm) || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, len, "%" PRIu64, t);
}

/* What a certificate says: a JSON object's fields (after event, when
 * there is one) or a sentence. */
static void describe(const gv_fleetcert_info *info, int json, const char *event, uint64_t now)
{
    int valid = now >= info->not_before && now < info->not_after;
    if (json) {
        printf("{");
        if (event)
            printf("\"event\":\"%s\",", event);
        printf("\"fleet\":\"%s\",\"node\":\"%s\",\"not_before\":%" PRIu64 ",\"not_after\":%" PRIu64
               ",\"valid_now\":%s}\n",
               info->fleet, info->node, info->not_before, info->not_after, valid ? "true" : "false");
        return;
    }
    char from[40], to[40];
    utc(info->not_before, from, sizeof from);
    utc(info->not_after, to, sizeof to);
    printf("fleet certificate for the server key %s, signed by the fleet key %s, valid from %s to %s%s\n", info->node,
           info->fleet, from, to,
           valid                  ? ""
           : now < info->not_before ? " (NOT YET VALID: players refuse this node until then)"
                                    : " (EXPIRED: players refuse this node)");
}

int fleet_sign_command(const gvoip_options *opt)
{
    char secret[KEY_FILE_MAX], text[GV_FLEETCERT_TEXT_MAX], why[512];
    uint8_t pk[32], cert[GV_FLEETCERT_BYTES];
    int code = token_read_secret(opt->server.key_file, secret, sizeof secret, FLEET_SECRET);
    if (code != EXIT_OK)
        goto out;
    int rc = gv_keyfile_public_key(opt->node_key_file, pk, why, sizeof why);
    if (rc < 0) {
        output_error(0, "%s", why[0] ? why : gv_strerror(rc));
        code = rc == GV_EKEY || rc == GV_ENOTFOUND ? EXIT_USAGE : EXIT_RUNTIME;
        goto out;
    }
    uint64_t now = (uint64_t)time(NULL);
    uint64_t not_before = opt->not_before >= 0 ? (uint64_t)opt->not_before : now - CLOCK_SLACK_S;
    uint64_t not_after = not_before + (uint64_t)opt->fleet_days * DAY_S;
    rc = gv_fleetcert_issue(secret, pk, not_before, not_after, text, sizeof text);
    if (rc == GV_EKEY) {
        output_error(0, "key file %s is not %s", opt->server.key_file, FLEET_SECRET);
        code = EXIT_USAGE;
        goto out;
    }
    gv_fleetcert_info info = {.size = sizeof info};
    if (rc < 0 || gv_fleetcert_from_text(text, strlen(text), cert, sizeof cert) != GV_FLEETCERT_BYTES ||
        gv_fleetcert_inspect(cert, sizeof cert, &info, why, sizeof why) != 0) {
        output_error(0, "cannot make the certificate: %s", rc < 0 ? gv_strerror(rc) : why);
        code = EXIT_RUNTIME;
        goto out;
    }
    if (token_write_new(opt->out_file, 0644, text) != 0) {
        code = EXIT_RUNTIME;
        goto out;
    }
    describe(&info, opt->json, NULL, now);
    code = fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
out:
    sodium_memzero(secret, sizeof secret);
    return code;
}

int fleet_cert_load(const char *path, int json, uint8_t cert[GV_FLEETCERT_BYTES])
{
    char text[CERT_FILE_MAX + 1], why[256];
    FILE *f = fopen(path, "r");
    if (!f) {
        output_error(json, "cannot read fleet certificate %s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    size_t n = fread(text, 1, sizeof text, f);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        output_error(json, "cannot read fleet certificate %s", path);
        return EXIT_RUNTIME;
    }
    gv_fleetcert_info info = {.size = sizeof info};
    if (n > CERT_FILE_MAX || gv_fleetcert_from_text(text, n, cert, GV_FLEETCERT_BYTES) != GV_FLEETCERT_BYTES) {
        output_error(json, "%s is not a fleet certificate (gvoip fleet-sign writes one)", path);
        return EXIT_USAGE;
    }
    if (gv_fleetcert_inspect(cert, GV_FLEETCERT_BYTES, &info, why, sizeof why) != 0) {
        output_error(json, "fleet certificate %s: %s", path, why);
        return EXIT_USAGE;
    }
    describe(&info, json, "fleet_cert", (uint64_t)time(NULL));
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
}
