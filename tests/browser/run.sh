#!/usr/bin/env bash
# The web chat in a real browser: starts contact-card-bot in sandbox mode (no gateway configured) on a
# free port, waits for GET /healthz, then drives the page in Debian's headless Chromium through
# playwright-core (the frame both share: tests/browser/harness.mjs): tests/browser/web-chat.test.mjs
# (a conversation with the bot) and
# tests/browser/reply-kinds.test.mjs (a picture and a poll, sent through the emulator's GREEN-API
# methods). Screenshots: target/screenshots/web-chat.png, target/screenshots/reply-kinds.png.
#
# Installs what it needs when missing: Debian's chromium + chromium-driver (apt-get; root or sudo),
# and playwright-core from tests/browser/package-lock.json (npm ci). No browser is downloaded.
set -euo pipefail
cd "$(dirname "$0")/../.."

SHOT=target/screenshots/web-chat.png
REPLY_SHOT=target/screenshots/reply-kinds.png
LOG=target/screenshots/contact-card-bot.log
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
export CHROMIUM
mkdir -p target/screenshots

# 1. Debian's Chromium.
if [ ! -x "$CHROMIUM" ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver
fi
"$CHROMIUM" --version

# 2. playwright-core, exactly as locked.
npm ci --prefix tests/browser --no-audit --no-fund

# 3. The bot, in sandbox mode, on a free port. Built first so the start-up wait is not compile time.
cargo build --locked --bin contact-card-bot
PORT="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
BASE="http://127.0.0.1:${PORT}/"
# No gateway from the caller's environment: the sandbox, as on a fresh clone.
for var in $(compgen -e | grep '^HOOKBOT_' || true); do unset "$var"; done
BOT_PID=""
cleanup() {
    if [ -n "$BOT_PID" ] && kill -0 "$BOT_PID" 2>/dev/null; then
        kill "$BOT_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$BOT_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$BOT_PID" 2>/dev/null || true
    fi
}
trap cleanup EXIT
HOOKBOT_LISTEN="127.0.0.1:${PORT}" cargo run --locked --quiet --bin contact-card-bot >"$LOG" 2>&1 &
BOT_PID=$!

echo "waiting for ${BASE}healthz (up to 60 s)"
deadline=$((SECONDS + 60))
until curl -fsS -o /dev/null --max-time 2 "${BASE}healthz"; do
    if ! kill -0 "$BOT_PID" 2>/dev/null; then
        echo "contact-card-bot exited before it was healthy; its output:" >&2
        cat "$LOG" >&2
        exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "contact-card-bot was not healthy within 60 s; its output:" >&2
        cat "$LOG" >&2
        exit 1
    fi
    sleep 0.5
done

# 4. The browser tests, one after the other on the same bot.
run_test() {
    if ! node "tests/browser/$1" "$BASE" "$2"; then
        echo "the browser test $1 failed; contact-card-bot's output:" >&2
        tail -n 50 "$LOG" >&2
        exit 1
    fi
    echo "screenshot: $2"
}
run_test web-chat.test.mjs "$SHOT"
run_test reply-kinds.test.mjs "$REPLY_SHOT"
