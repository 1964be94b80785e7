#!/usr/bin/env bash
# Soak test of `dseek serve` on loopback: a bounded mix of chat, completions, streams, clients
# that hang up and malformed requests for N minutes, or a slowloris run that holds N sockets
# dripping header lines while /health is probed. Reports requests by status, latency
# percentiles, /health probe times and the server's RSS over time; stops by itself.
#
#   bench/soak.sh DSEEK MODEL [--minutes M] [--clients C] [--slowloris N] [-- SERVE_ARGS...]
#
# Defaults: 10 minutes, 8 clients. --slowloris N: hold N slow sockets for the run instead of
# the load mix (raise --max-connections above N in SERVE_ARGS if needed). Needs node.
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,10p' "$0"; exit 2; }
dseek=$1 model=$2; shift 2
minutes=10 clients=8 slowloris=0 serve_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --slowloris) slowloris=$2; shift 2 ;;
    --) shift; serve_args=("$@"); break ;;
    *) echo "soak: unknown argument $1" >&2; exit 2 ;;
  esac
done
(( clients >= 1 && clients <= 64 )) || { echo "soak: --clients must be 1..64" >&2; exit 2; }
work=$(mktemp -d); trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
ulimit -n $(( slowloris + 1024 > 4096 ? slowloris + 1024 : 4096 )) 2>/dev/null || true

"$dseek" serve -m "$model" --host 127.0.0.1 --port 0 --parallel 4 --queue 16 "${serve_args[@]}" 2>"$work/serve.log" &
pid=$!
for _ in $(seq 600); do grep -q 'listening on' "$work/serve.log" && break; sleep 0.1; done
url=$(sed -n 's/^dseek serve: listening on \(http:[^ ]*\).*/\1/p' "$work/serve.log")
[ -n "$url" ] || { cat "$work/serve.log"; exit 1; }
echo "soak: $url, pid $pid, ${minutes} min, $( ((slowloris)) && echo "slowloris $slowloris sockets" || echo "$clients clients")"

rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
( while kill -0 "$pid" 2>/dev/null; do echo "$(date +%s) $(rss)"; sleep 10; done ) >"$work/rss.txt" &
sampler=$!

node --input-type=module - "$url" "$minutes" "$clients" "$slowloris" <<'JS'
import net from 'node:net';
const [url, minutes, clients, slowloris] = process.argv.slice(2).map((v, i) => (i ? Number(v) : v));
const { port } = new URL(url);
const end = Date.now() + minutes * 60_000;
const counts = {}, lat = [], probes = [];
const note = (kind, status, ms) => { const k = `${kind} ${status}`; counts[k] = (counts[k] ?? 0) + 1; if (ms !== undefined) lat.push(ms); };
const json = (o) => ({ method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(o) });
const kinds = {
  chat: () => fetch(`${url}/v1/chat/completions`, json({ messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 16 })),
  completion: () => fetch(`${url}/v1/completions`, json({ prompt: 'ROMEO:', max_tokens: 16 })),
  stream: () => fetch(`${url}/v1/completions`, json({ prompt: 'ROMEO:', max_tokens: 32, stream: true })),
  disconnect: async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    return fetch(`${url}/v1/completions`, { ...json({ prompt: 'ROMEO:', max_tokens: 400 }), signal: ac.signal });
  },
  malformed: () => fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"messages": [' }),
  text_plain: () => fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{"prompt":"x"}' }),
  too_big: () => fetch(`${url}/v1/completions`, json({ prompt: 'x'.repeat(2 << 20) })),
  health: () => fetch(`${url}/health`),
};
const names = Object.keys(kinds);
async function client() {
  while (Date.now() < end) {
    const kind = names[Math.floor(Math.random() * names.length)];
    const t0 = Date.now();
    try {
      const res = await kinds[kind]();
      await res.text();
      note(kind, res.status, Date.now() - t0);
    } catch (e) { note(kind, e.name === 'AbortError' ? 'aborted' : 'neterr'); }
  }
}
async function prober() {
  while (Date.now() < end) {
    const t0 = Date.now();
    try {
      const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) });
      await r.text();
      probes.push(r.status === 200 ? Date.now() - t0 : 5000);
    } catch { probes.push(5000); }
    await new Promise((r) => setTimeout(r, 250));
  }
}
// N sockets that each send a header line every 5 s; one the server cuts off is opened again.
function slowSockets(n) {
  const socks = new Set();
  let refused = 0, opened = 0, cut = 0, stopping = false;
  const open = () => {
    const s = net.connect(Number(port), '127.0.0.1');
    s.on('connect', () => { opened++; s.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`); });
    s.on('data', (d) => { if (/^HTTP\/1\.1 503/.test(d.toString())) refused++; });
    s.on('close', () => { socks.delete(s); if (!stopping) { cut++; setTimeout(open, 100); } });
    s.on('error', () => {});
    socks.add(s);
  };
  for (let i = 0; i < n; i++) open();
  const drip = setInterval(() => { for (const s of socks) if (!s.destroyed) s.write(`X-a: ${Date.now()}\r\n`); }, 5000);
  return () => {
    stopping = true;
    clearInterval(drip);
    const open_at_end = socks.size;
    for (const s of socks) s.destroy();
    return { connects: opened, refused_503: refused, cut_by_server: cut, open_at_end };
  };
}
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : 0; };
const stopSlow = slowloris > 0 ? slowSockets(slowloris) : null;
await Promise.all([prober(), ...(slowloris > 0 ? [] : Array.from({ length: clients }, client))]);
const slow = stopSlow ? stopSlow() : null;
const total = Object.values(counts).reduce((a, b) => a + b, 0);
console.log(`requests: ${total}`);
for (const k of Object.keys(counts).sort()) console.log(`  ${k}: ${counts[k]}`);
if (lat.length) console.log(`latency ms: p50 ${pct(lat, 0.5)}  p99 ${pct(lat, 0.99)}  max ${pct(lat, 1)}`);
console.log(`/health probes: ${probes.length}, p50 ${pct(probes, 0.5)} ms, p99 ${pct(probes, 0.99)} ms, max ${pct(probes, 1)} ms, over 1 s: ${probes.filter((x) => x > 1000).length}`);
if (slow) console.log(`slowloris sockets: ${JSON.stringify(slow)}`);
JS
kill "$sampler" 2>/dev/null || true
echo "RSS over time (KiB, every 10 s): $(awk '{printf "%s ", $2}' "$work/rss.txt")"
echo "RSS start $(head -1 "$work/rss.txt" | cut -d' ' -f2) KiB, end $(tail -1 "$work/rss.txt" | cut -d' ' -f2) KiB"
kill -TERM "$pid"; rc=0; wait "$pid" || rc=$?
echo "server exit status after SIGTERM: $rc"
grep -v 'listening on' "$work/serve.log" | tail -3
