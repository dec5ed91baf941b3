"""radixctl chat driven from a pipe: multi-turn on one session, KV reuse reported per
turn, and the slash commands."""
import json
import os
import re
import signal
import subprocess

from conftest import RADIXCTL, ctl_json

TURN = re.compile(r"\[(\d+) tokens \| prompt (\d+), cached (\d+) \| TTFT ([\d.]+) ms \| ([\d.]+) tok/s \| "
                  r"context (\d+)\]")


def session_ids(ctl):
    return {s["session_id"] for s in ctl_json(ctl, "sessions", "ls")["sessions"]}


def test_three_turns_from_a_pipe_reuse_the_session_kv(ctl):
    before = session_ids(ctl)
    r = ctl("--json", "chat", "-n", "12", input="Hi! What is the capital of France?\nAnd of Italy?\nThanks!\n")
    assert r.returncode == 0, r.stderr
    turns = [json.loads(line) for line in r.stdout.splitlines()]
    assert [t["turn"] for t in turns] == [1, 2, 3]
    assert [t["user"] for t in turns] == ["Hi! What is the capital of France?", "And of Italy?", "Thanks!"]
    assert len({t["session_id"] for t in turns}) == 1  # one session for the whole chat
    assert turns[0]["cached_tokens"] == 0
    for prev, t in zip(turns, turns[1:]):
        # Everything before this turn comes from the session's KV: only the new turn
        # (plus the previous reply's pending token) is computed.
        assert t["cached_tokens"] > 0
        assert t["cached_tokens"] == prev["context_tokens"] - 1
        assert t["usage"]["prompt_tokens"] < t["cached_tokens"]
        assert t["context_tokens"] == t["cached_tokens"] + t["usage"]["prompt_tokens"] + t["usage"]["generated_tokens"]
    for t in turns:
        assert 0 < t["usage"]["generated_tokens"] <= 12 and t["reply"].strip()
        assert "<|im_end|>" not in t["reply"]
    assert "Paris" in turns[0]["reply"]
    assert session_ids(ctl) == before  # the session is deleted at the end


def test_text_mode_summaries_report_cached_tokens(ctl):
    r = ctl("chat", "-n", "8", "--system", "You are a terse assistant.",
            input="Name a fruit.\nName another one.\nAnd a third.\n")
    assert r.returncode == 0, r.stderr
    summaries = [tuple(map(float, m.groups())) for m in TURN.finditer(r.stderr)]
    assert len(summaries) == 3, r.stderr
    assert summaries[0][2] == 0 and summaries[1][2] > 0 and summaries[2][2] > summaries[1][2]
    assert len(r.stdout.strip().splitlines()) >= 3  # the replies, streamed on stdout


def test_slash_commands_fork_save_reset_keep(ctl, tmp_path):
    before = session_ids(ctl)
    transcript = tmp_path / "chat.json"
    script = "\n".join(["/help", "/session", "My name is Ada.", "/session", "/fork", "What is my name?",
                        f"/save {transcript}", "/nonsense", "/reset", "Hello again.", "/quit",
                        "never sent"]) + "\n"
    r = ctl("--json", "chat", "-n", "8", "--keep", input=script)
    assert r.returncode == 0, r.stderr
    turns = [json.loads(line) for line in r.stdout.splitlines()]
    assert [t["user"] for t in turns] == ["My name is Ada.", "What is my name?", "Hello again."]
    first, forked, fresh = (t["session_id"] for t in turns)
    assert len({first, forked, fresh}) == 3
    assert f"session {forked}" in r.stderr and f"{first} kept" in r.stderr  # /fork
    assert "[no session yet]" in r.stderr and "/reset" in r.stderr and "unknown command /nonsense" in r.stderr
    assert turns[1]["cached_tokens"] > 0  # the fork shares the first turn's KV
    # /reset started over on a new session: only the system prompt's whole blocks come
    # back, from the prefix cache.
    t3 = turns[2]
    assert t3["context_tokens"] == t3["usage"]["prompt_tokens"] + t3["usage"]["generated_tokens"]
    assert t3["cached_tokens"] == t3["usage"]["cached_tokens"] and t3["cached_tokens"] % 16 == 0
    saved = json.loads(transcript.read_text())
    assert saved["template"] == "chatml" and saved["session_id"] == forked
    # SmolLM2's template's default system prompt comes first.
    assert [m["role"] for m in saved["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert saved["messages"][0]["content"].startswith("You are a helpful AI assistant named SmolLM")
    assert saved["messages"][3]["content"] == "What is my name?"
    # /reset deleted the fork; --keep kept the last session; /fork kept the original.
    now = session_ids(ctl)
    assert first in now and fresh in now and forked not in now
    assert f"session {fresh} kept" in r.stderr
    # Resume the kept conversation with --session: the earlier KV is reused.
    again = ctl("--json", "chat", "-n", "4", "--session", fresh, input="One more thing.\n")
    assert again.returncode == 0, again.stderr
    t = json.loads(again.stdout)
    assert t["session_id"] == fresh and t["cached_tokens"] == turns[2]["context_tokens"] - 1
    assert ctl("sessions", "rm", first).returncode == 0
    assert session_ids(ctl) == before


def test_ctrl_c_stops_a_reply_then_leaves_at_the_prompt(server, ctl):
    before = session_ids(ctl)
    env = dict(os.environ, RADIXSERVE_ADDR=server.addr)
    p = subprocess.Popen([str(RADIXCTL), "chat", "-n", "60", "--ignore-eos"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    p.stdin.write("Tell me a very long story about a dragon.\n")
    p.stdin.flush()
    p.stdout.read(1)  # the reply is streaming
    p.send_signal(signal.SIGINT)
    p.stdin.write("Thanks, that is enough.\n")
    p.stdin.flush()
    # Wait for the second reply's summary, then Ctrl-C at the prompt.
    lines = []
    while not any(TURN.search(l) for l in lines):
        lines.append(p.stderr.readline())
        assert lines[-1], "".join(lines)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=60)  # stdin stays open: only the signal can end it
    _, err = p.communicate(timeout=60)
    err = "".join(lines) + err
    assert p.returncode == 130, err
    assert "[interrupted" in err
    m = TURN.search(err)
    generated, cached = int(m.group(1)), int(m.group(3))
    assert generated == 60 and cached > 0  # the interrupted turn stays in the session's KV
    assert session_ids(ctl) == before  # leaving deletes the session
