// The recorder: runs a program under a pseudo-terminal, relays the person's terminal to it and
// back, and writes everything as asciicast v2 events ("o" output, "i" input, "r" resize) into
// chunks for a ChunkSink. Without a terminal (stdin or stdout not a tty: `ssh host cmd`
// without -t, scp, rsync, `cmd < file`) it runs the program with three pipes instead, so the
// bytes pass unchanged in both directions (no CRLF, no echo, stderr stays stderr); stdin is
// recorded as "i", stdout and stderr both as "o" (asciicast v2 has no stderr stream), and the
// header says "pty": false. The recorder's own lines go into the terminal when there is one,
// otherwise to stderr, never into the program's stdout. It writes warnings into the terminal before the grant ends and ends
// the session at the end or on revocation: SIGHUP to the program's process group (and the
// terminal's foreground group), SIGKILL after a grace period. The end and its reason are
// written into the terminal and into the recording, whose last chunk is final.
//
// Processes that leave the session's process group (setsid, double fork) do not outlive it:
// the recorder makes itself their subreaper (PR_SET_CHILD_SUBREAPER), signals every process
// below it along with the group, and when the session ends, however it ends, kills and reaps
// whatever is left below it. A background job started in the session ends with the session.
//
// Not thread-safe: one Run at a time per process (it owns SIGWINCH/SIGCHLD/SIGTERM/SIGHUP
// handling while it runs, the terminal's mode, and reaps every child of the process).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "session/asciicast.h"
#include "session/chunk.h"
#include "session/grant.h"
#include "util/result.h"

namespace bg::session {

// How the program is attached: kAuto is a PTY when in_fd and out_fd are both terminals, pipes
// otherwise.
enum class TerminalMode { kAuto, kPty, kPipes };

struct RecorderOptions {
  // The program. Empty: with ssh_original_command, `$SHELL -c` it; else the login shell.
  std::vector<std::string> argv;
  std::string ssh_original_command;
  std::string shell;  // the person's shell; empty: $SHELL, then the password database, /bin/sh
  // Session, request, person, host; width/height/timestamp/command are filled in by Run.
  Header header;
  std::map<std::string, std::string> child_env;  // set in the program's environment
  int in_fd = 0;
  int out_fd = 1;
  int err_fd = 2;  // without a PTY: the program's stderr and the recorder's notices
  TerminalMode terminal = TerminalMode::kAuto;
  int64_t warn_before_seconds = 300;
  std::chrono::milliseconds grace{5000};
  size_t chunk_bytes = 128 * 1024;             // seal a chunk at this size...
  std::chrono::milliseconds chunk_interval{1000};  // ...or this long after its first event
  bool record_input = true;
  // When set: before the program starts, the header goes out as a chunk of its own (seq 0, one
  // "m" marker) and this is called; an error stops the session before anything runs (Run returns
  // it). Recording "required" waits here for the server to have committed that chunk.
  std::function<Status()> start_gate;
};

struct RecorderResult {
  int exit_code = 0;       // the program's, or 128 + signal
  std::string end_reason;  // "exit", "expired", "revoked", "hangup", ...
  int64_t chunks = 0;
};

// True when Run would use a PTY for these options.
bool UsePty(const RecorderOptions& options);

// Runs the session to its end. `grant` may be null (no time limit, e.g. a local recording).
Result<RecorderResult> RunRecorder(const RecorderOptions& options, ChunkSink& sink,
                                   GrantState* grant);

}  // namespace bg::session
