/* The live terminal screen of `gvoip host` and `gvoip join` (ncurses):
 * the lobby's players and who is speaking, the input level, the controls
 * (mute, deafen, push-to-talk, per-player volume and mute) and, in
 * positional mode, a map on which the arrow keys move you.
 *
 * Everything runs on the program's main thread, between calls that service
 * the network and the audio: no call waits for a key. */
#ifndef GVOIP_TUI_H
#define GVOIP_TUI_H

#include "gvoip/gvoip.h"

typedef struct tui tui;

/* Takes over the terminal (curses, no echo, keys without waiting).
 * Returns 0 with *out owned by the caller, or -1 when the terminal cannot
 * be used. target names what is joined ("host:port", copied); pose is the
 * player's starting pose (copied). */
int tui_open(const char *target, const gv_player_pose *pose, int muted, int transmit_mode, tui **out);

/* Gives the terminal back. NULL is a no-op. */
void tui_close(tui *t);

/* Feeds one event (players joining and leaving, speaking, failures). */
void tui_event(tui *t, const gv_event *ev);

/* A line for the screen's log (listening port, errors). */
void tui_note(tui *t, const char *text);

/* Reads the keys typed since the last call, applies them to client (may
 * be NULL before it exists), and redraws at most 20 times a second.
 * Returns 1 once the user asked to quit, else 0. */
int tui_update(tui *t, gv_client *client);

/* The pose the user moved to (for the caller to keep in step). */
void tui_pose(const tui *t, gv_player_pose *out);

/* Moves the player (e.g. a scripted move); the screen follows. */
void tui_set_pose(tui *t, const gv_player_pose *pose);

#endif
