#!/usr/bin/env python3
"""Load on a running higgs-trt speech server (standard library only).

    python3 speech_load.py PORT CLIENTS MAX_FRAMES [ROUNDS]

CLIENTS threads each send ROUNDS streaming requests (PCM) one after the other; prints the
requests answered and refused (429), requests a second, audio seconds a second, and the time to
first audio (first body bytes) p50 / p99 of the answered ones. Each request's text is one sentence
of about 57 characters: 128 prompt positions with the chat template and the tokenizer of the
synthetic checkpoints (`higgs-trt synth`).
"""
import http.client
import json
import sys
import threading
import time

port, clients, frames = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 1
lock = threading.Lock()
ttfa, ok, refused, other, audio_bytes = [], [0], [0], [0], [0]


def client(i):
    for r in range(rounds):
        body = json.dumps({"input": f"Client {i} says hello for the {r}th time, and a little more.", "seed": i * 100 + r,
                           "max_frames": frames, "stream": True, "response_format": "pcm"})
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        t0 = time.perf_counter()
        c.request("POST", "/v1/audio/speech", body, {"Content-Type": "application/json"})
        resp = c.getresponse()
        if resp.status == 200:
            first = resp.read(2)
            t1 = time.perf_counter()
            rest = resp.read()
            with lock:
                ok[0] += 1
                ttfa.append(t1 - t0)
                audio_bytes[0] += len(first) + len(rest)
        else:
            text = resp.read()
            with lock:
                (refused if resp.status == 429 else other)[0] += 1
                if resp.status != 429 and other[0] <= 3:
                    print("status", resp.status, text[:300])
        c.close()


start = time.perf_counter()
threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
wall = time.perf_counter() - start
ttfa.sort()
q = lambda p: ttfa[min(len(ttfa) - 1, int(p * len(ttfa)))] if ttfa else float("nan")
print(f"{clients} clients x {rounds}: {ok[0]} answered, {refused[0]} refused (429), {other[0]} other, in {wall:.2f} s: "
      f"{ok[0] / wall:.2f} requests/s, {audio_bytes[0] / 2 / 24000 / wall:.1f} s of audio a second; "
      f"time to first audio p50 {q(0.5) * 1e3:.0f} ms, p99 {q(0.99) * 1e3:.0f} ms")
