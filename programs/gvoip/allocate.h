/* `gvoip allocate`: a game backend's question to a fleet of gvoip servers
 * sharing one Redis (gvoip/fleet.h): which server hosts this lobby? The
 * first ask places it on the live server with the most room. */
#ifndef GVOIP_ALLOCATE_H
#define GVOIP_ALLOCATE_H

/* Runs `gvoip allocate` with its own command line (argv[0] is "allocate";
 * it takes none of the other commands' options). Prints one line,
 * "HOST:PORT SHA256:FINGERPRINT", or with --json one object; failures go
 * to stderr (and with --json also as {"event":"error",...} on stdout).
 * Returns the program's exit code: EXIT_OK, EXIT_USAGE for a bad command
 * line, EXIT_RUNTIME when Redis or the fleet cannot place the lobby. */
int allocate_command(int argc, char **argv);

#endif
