#include "allocate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gvoip/fleet.h"
#include "options.h"
#include "output.h"

#define REDIS_URL_ENV "GVOIP_REDIS_URL"

typedef struct allocate_options {
    const char *redis_url;
    const char *lobby;
    const char *prefix;
    uint32_t protocol; /* 0: any */
    int json;
} allocate_options;

static const char usage_text[] =
    "usage: gvoip allocate --lobby LOBBY [--redis URL] [--protocol N] [--prefix PREFIX] [--json]\n"
    "\n"
    "Prints where lobby LOBBY is hosted in a fleet of gvoip servers sharing one Redis,\n"
    "as HOST:PORT SHA256:FINGERPRINT; the first ask places it on the live server with\n"
    "the most room.\n"
    "\n"
    "  --lobby LOBBY        the lobby, 0..64 bytes (\"\" is the default lobby) (required)\n"
    "  --redis URL          redis://HOST[:PORT][/DB] (default: the " REDIS_URL_ENV " environment\n"
    "                       variable); a URL with a password, redis://[USER]:PASSWORD@HOST,\n"
    "                       only in " REDIS_URL_ENV "\n"
    "  --protocol N         only a server speaking wire protocol N (default 0: any)\n"
    "  --prefix PREFIX      the fleet's Redis key prefix (default " GV_FLEET_DEFAULT_PREFIX ")\n"
    "  --json               {\"lobby\":...,\"address\":...,\"fingerprint\":...,\"protocol\":N,\"created\":MS}\n";

static int bad(const char *what, const char *value)
{
    fprintf(stderr, "gvoip: %s: '%s'\n", what, value ? value : "");
    fprintf(stderr, "Run 'gvoip allocate --help' for the options.\n");
    return EXIT_USAGE;
}

/* A password in argv is readable by every local user, as --password and
 * --token are refused for: the user information of redis://USER:PASS@. */
static int has_password(const char *url)
{
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    const char *at = strchr(auth, '@');
    return at && (size_t)(at - auth) < strcspn(auth, "/?#");
}

/* 0, EXIT_USAGE after saying why, or -1 after printing the help. */
static int parse(int argc, char **argv, allocate_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->prefix = GV_FLEET_DEFAULT_PREFIX;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return -1;
        }
        if (!strcmp(a, "--json")) {
            opt->json = 1;
            continue;
        }
        const char **dest = !strcmp(a, "--redis") ? &opt->redis_url
                            : !strcmp(a, "--lobby") ? &opt->lobby
                            : !strcmp(a, "--prefix") ? &opt->prefix
                            : NULL;
        if (!dest && strcmp(a, "--protocol") != 0)
            return bad("unknown option", a);
        if (i + 1 >= argc)
            return bad("option needs a value", a);
        const char *v = argv[++i];
        if (dest) {
            *dest = v;
            continue;
        }
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || end == v || *end || v[0] == '-' || n > UINT32_MAX)
            return bad("--protocol takes 0 (any) to 4294967295", v);
        opt->protocol = (uint32_t)n;
    }
    if (!opt->lobby)
        return bad("allocate needs --lobby LOBBY (\"\" for the default lobby)", "");
    if (strlen(opt->lobby) > GV_FLEET_LOBBY_MAX)
        return bad("--lobby takes 0..64 bytes", opt->lobby);
    if (opt->redis_url && has_password(opt->redis_url))
        return bad("passwords are never taken on the command line (every local user can read it); put the URL in "
                   "the " REDIS_URL_ENV " environment variable",
                   "--redis");
    if (!opt->redis_url && !(opt->redis_url = getenv(REDIS_URL_ENV)))
        return bad("allocate needs --redis URL or the " REDIS_URL_ENV " environment variable", "");
    return 0;
}

static void print_placement(const allocate_options *opt, const gv_fleet_placement *p)
{
    if (opt->json) {
        fputs("{\"lobby\":", stdout);
        output_json_string(stdout, opt->lobby);
        fputs(",\"address\":", stdout);
        output_json_string(stdout, p->address);
        fputs(",\"fingerprint\":", stdout);
        output_json_string(stdout, p->fingerprint);
        printf(",\"protocol\":%lu,\"created\":%llu}\n", (unsigned long)p->protocol,
               (unsigned long long)p->created_ms);
    } else {
        printf("%s %s\n", p->address, p->fingerprint);
    }
}

int allocate_command(int argc, char **argv)
{
    allocate_options opt;
    int code = parse(argc, argv, &opt);
    if (code != 0)
        return code < 0 ? EXIT_OK : code;

    gv_fleet_config cfg;
    gv_fleet_config_default(&cfg);
    cfg.redis_url = opt.redis_url;
    cfg.prefix = opt.prefix;
    gv_fleet *fleet;
    char why[256] = "";
    int rc = gv_fleet_create(&cfg, &fleet, why, sizeof why);
    if (rc == GV_EINVAL || rc == GV_EAUTH) {
        /* The URL, its password or the prefix: what the user said. */
        output_error(opt.json, "%s", why);
        return EXIT_USAGE;
    }
    if (rc != 0) {
        output_error(opt.json, "%s", why[0] ? why : gv_strerror(rc));
        return EXIT_RUNTIME;
    }
    /* The default lobby's name is empty: say so rather than print ''. */
    char lobby[GV_FLEET_LOBBY_MAX + 16];
    snprintf(lobby, sizeof lobby, opt.lobby[0] ? "lobby '%s'" : "the default lobby", opt.lobby);
    gv_fleet_placement p = {.size = sizeof p};
    rc = gv_fleet_allocate(fleet, opt.lobby, strlen(opt.lobby), opt.protocol, &p);
    if (rc == 0) {
        print_placement(&opt, &p);
        code = fflush(stdout) == 0 ? EXIT_OK : EXIT_RUNTIME;
    } else {
        if (rc == GV_EFULL)
            output_error(opt.json, "cannot place %s: every live gvoip server%s is full", lobby,
                         opt.protocol ? " speaking that protocol" : "");
        else if (rc == GV_ENOTFOUND && opt.protocol)
            output_error(opt.json, "cannot place %s: no live gvoip server speaks protocol %lu", lobby,
                         (unsigned long)opt.protocol);
        else if (rc == GV_ENOTFOUND)
            output_error(opt.json, "cannot place %s: no live gvoip server is registered under prefix %s", lobby,
                         opt.prefix);
        else if (rc == GV_EVERSION)
            output_error(opt.json, "%s is hosted by %s, which speaks protocol %lu, not %lu", lobby, p.address,
                         (unsigned long)p.protocol, (unsigned long)opt.protocol);
        else
            output_error(opt.json, "cannot place %s: %s", lobby, gv_fleet_last_error(fleet));
        code = EXIT_RUNTIME;
    }
    gv_fleet_destroy(fleet);
    return code;
}
