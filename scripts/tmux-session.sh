# Sourced by the tmux session tests (teleop-tmux-test.sh, calibrate-tmux-test.sh): every `tmux` call goes to
# a private server (its own socket, no user configuration), so a tmux the user or a CI runner already has is
# never touched, and `new_session` retries when the fresh server is lost while it starts (tmux 3.3a can print
# "server exited unexpectedly" for a server that races its own start-up). The caller sets SESSION.
TMUX_SOCKET_NAME=cerebellum-test-$$
unset TMUX
tmux() { command tmux -L "$TMUX_SOCKET_NAME" -f /dev/null "$@"; }

# new_session ARGS…: `tmux new-session -d -s "$SESSION" ARGS…`, up to five tries half a second apart.
new_session() {
  local attempt error
  for attempt in 1 2 3 4 5; do
    if error=$(tmux new-session -d -s "$SESSION" "$@" 2>&1); then return 0; fi
    if tmux has-session -t "$SESSION" 2>/dev/null; then return 0; fi
    echo "tmux new-session, try $attempt of 5: $error" >&2
    sleep 0.5
  done
  echo "FAIL tmux could not start a session (tmux $(command tmux -V))" >&2
  return 1
}
