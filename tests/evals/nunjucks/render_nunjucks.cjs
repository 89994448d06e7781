// Renders every template of a corpus with Nunjucks itself, configured as promptfoo configures it
// (autoescape off, throwOnUndefined off, an `env` global and a `load` filter parsing JSON), and
// writes each result, text or error message, as JSON.
// Usage: node render_nunjucks.cjs <nunjucks package dir> <corpus.json>
const fs = require('fs');
const [nunjucksDir, corpusPath] = process.argv.slice(2);
const nunjucks = require(nunjucksDir);
const { env: environment, groups } = JSON.parse(fs.readFileSync(corpusPath, 'utf8'));
const env = nunjucks.configure({ autoescape: false, throwOnUndefined: false });
env.addGlobal('env', environment);
env.addFilter('load', (text) => JSON.parse(text));
const results = groups.map(({ context, templates }) => templates.map((template) => {
  try {
    return { text: env.renderString(template, JSON.parse(JSON.stringify(context))) };
  } catch (error) {
    return { error: String(error.message).replace(/\s+/g, ' ').trim() };
  }
}));
process.stdout.write(JSON.stringify(results));
