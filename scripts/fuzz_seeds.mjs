// Writes fuzz seed inputs from the golden data: node scripts/fuzz_seeds.mjs GOLDEN_DIR OUT_DIR.
// tokenizer/: each golden text; chat_render/: a mode byte + each render case's messages;
// output_parser/: a mode byte + a seed byte + each parse case's completion.
import fs from 'node:fs';
import path from 'node:path';

const [golden, out] = process.argv.slice(2);
const write = (dir, name, buf) => {
    fs.mkdirSync(path.join(out, dir), { recursive: true });
    fs.writeFileSync(path.join(out, dir, name), buf);
};
const tok = JSON.parse(fs.readFileSync(path.join(golden, 'tokenizer/cases.json'), 'utf8'));
tok.forEach((c, i) => write('tokenizer', `case${i}`, Buffer.from(c.text, 'utf8')));
const render = JSON.parse(fs.readFileSync(path.join(golden, 'chat/render_cases.json'), 'utf8'));
render.forEach((c, i) => {
    const mode = (c.thinking_mode === 'thinking' ? 1 : 0) | (c.reasoning_effort === 'max' ? 2 : 0) |
        (c.drop_thinking ? 0 : 4) | ((i % 8) << 3);
    write('chat_render', `case${i}`,
          Buffer.concat([Buffer.from([mode]), Buffer.from(JSON.stringify(c.messages), 'utf8')]));
});
const parse = JSON.parse(fs.readFileSync(path.join(golden, 'chat/parse_cases.json'), 'utf8'));
parse.forEach((c, i) => {
    const mode = c.thinking_mode === 'thinking' ? 1 : 0;
    write('output_parser', `case${i}`,
          Buffer.concat([Buffer.from([mode, i & 255]), Buffer.from(c.completion, 'utf8')]));
});
