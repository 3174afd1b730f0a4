// The JavaScript side of the tokenizer benchmark: encodes the corpus written by
// `osprey bench tokenizer --write-corpus FILE` with @huggingface/tokenizers (pure JS) and prints the
// same figures (tokens, ids hash, MB/s per pass). Usage:
//   npm install --prefix .deps/bench --no-audit --no-fund @huggingface/tokenizers@0.2.0
//   node scripts/bench_tokenizer_js.mjs TOKENIZER_DIR CORPUS.jsonl [PASSES]
// TOKENIZER_DIR holds tokenizer.json and tokenizer_config.json (e.g. .deps/tokenizer).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [dir, corpusPath, passesArg] = process.argv.slice(2);
if (!dir || !corpusPath) {
    console.error('usage: node scripts/bench_tokenizer_js.mjs TOKENIZER_DIR CORPUS.jsonl [PASSES]');
    process.exit(2);
}
const lib = path.join(root, '.deps/bench/node_modules/@huggingface/tokenizers/dist/tokenizers.mjs');
if (!fs.existsSync(lib)) {
    console.error(`${lib} missing: npm install --prefix .deps/bench --no-audit --no-fund @huggingface/tokenizers@0.2.0`);
    process.exit(2);
}
const { Tokenizer } = await import(pathToFileURL(lib).href);
const passes = Number(passesArg ?? 3);

const t0 = performance.now();
const tokenizerJson = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
const configPath = path.join(dir, 'tokenizer_config.json');
const config = fs.existsSync(configPath) ? JSON.parse(fs.readFileSync(configPath, 'utf8')) : {};
const tokenizer = new Tokenizer(tokenizerJson, config);
const loadS = (performance.now() - t0) / 1000;

const docs = fs.readFileSync(corpusPath, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l));
const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d, 'utf8'), 0);
console.log(`corpus: ${docs.length} documents, ${(bytes / 1e6).toFixed(2)} MB`);
console.log(`tokenizer load: ${loadS.toFixed(2)} s (node ${process.version}, @huggingface/tokenizers 0.2.0)`);
let best = 0;
let bestCpu = 0;
for (let p = 0; p < passes; ++p) {
    let tokens = 0;
    let hash = 2166136261 >>> 0;
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    for (const d of docs) {
        const ids = tokenizer.encode(d, { add_special_tokens: false }).ids;
        tokens += ids.length;
        for (const id of ids) {
            hash = Math.imul((hash ^ id) >>> 0, 16777619) >>> 0;
        }
    }
    const s = (performance.now() - start) / 1000;
    const used = process.cpuUsage(cpuStart);
    const cpu = (used.user + used.system) / 1e6;
    const rate = bytes / 1e6 / s;
    const cpuRate = bytes / 1e6 / cpu;
    best = Math.max(best, rate);
    bestCpu = Math.max(bestCpu, cpuRate);
    console.log(`pass ${p + 1}: ${tokens} tokens (ids hash ${hash.toString(16).padStart(8, '0')}) in ${s.toFixed(3)} s wall, ${cpu.toFixed(3)} s CPU: ${rate.toFixed(2)} MB/s wall, ${cpuRate.toFixed(2)} MB/s CPU`);
}
console.log(`best: ${best.toFixed(2)} MB/s wall, ${bestCpu.toFixed(2)} MB/s CPU time (one thread)`);
