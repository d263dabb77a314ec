#!/bin/sh
# One desktop: Xvnc, a window manager and a terminal, all in the process group this script leads,
# so the session agent can freeze (SIGSTOP), thaw (SIGCONT) or end them together.
# Prints "ready <display> <xvnc pid>" once Xvnc accepts connections; exits when Xvnc exits.
# RFB_INTERFACE (optional) is the one address Xvnc listens on; RFB_LOCALHOST=yes keeps it on loopback.
set -u
: "${XVNC_BIN:?}" "${RFB_PORT:?}" "${PASSWORD_FILE:?}" "${GEOMETRY:?}" "${SESSION_DIR:?}" "${DESKTOP_WM:?}" "${DESKTOP_TERMINAL:?}"

display_file="$SESSION_DIR/display"
rm -f "$display_file"
set -- -displayfd 3 -rfbport "$RFB_PORT" -localhost "${RFB_LOCALHOST:-yes}" -SecurityTypes VncAuth \
  -PasswordFile "$PASSWORD_FILE" -geometry "$GEOMETRY" -depth 24 -AlwaysShared -desktop v-supercore
[ -n "${RFB_INTERFACE:-}" ] && set -- "$@" -interface "$RFB_INTERFACE"
"$XVNC_BIN" "$@" 3>"$display_file" >>"$SESSION_DIR/xvnc.log" 2>&1 &
xvnc=$!

while [ ! -s "$display_file" ]; do
  if ! kill -0 "$xvnc" 2>/dev/null; then
    wait "$xvnc"
    echo "exited $?"
    exit 1
  fi
  sleep 0.02
done

display=$(head -n 1 "$display_file")
export DISPLAY=":$display"
# A calm background instead of X's black root window, when xsetroot is there.
command -v xsetroot >/dev/null 2>&1 && xsetroot -solid '#24425f'
"$DESKTOP_WM" >>"$SESSION_DIR/wm.log" 2>&1 &
"$DESKTOP_TERMINAL" -geometry 100x30+30+30 >>"$SESSION_DIR/terminal.log" 2>&1 &
echo "ready $display $xvnc"
wait "$xvnc"
