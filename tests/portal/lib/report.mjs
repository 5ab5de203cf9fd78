// The run's checks, printed as they pass or fail, and the verdict at the end.
export class Report {
  constructor() {
    this.passed = 0;
    this.failures = [];
    this.started = Date.now();
  }

  check(name, ok, detail = '') {
    if (ok) {
      this.passed += 1;
      console.log(`  ok    ${name}`);
    } else {
      this.failures.push({ name, detail });
      console.log(`  FAIL  ${name}${detail ? `\n    ${detail}` : ''}`);
    }
    return ok;
  }

  // Runs one step of a story; a step that throws fails, and its story stops there (the steps
  // after it build on it), but the run goes on with the next story.
  async step(name, body) {
    try {
      await body();
      return this.check(name, true);
    } catch (err) {
      this.check(name, false, err?.stack ?? String(err));
      throw new StoryStopped(name);
    }
  }

  async story(name, body) {
    console.log(`\n${name}`);
    try {
      await body();
    } catch (err) {
      if (!(err instanceof StoryStopped)) this.check(`${name}: finished`, false, err?.stack ?? String(err));
    }
  }

  summary() {
    const seconds = ((Date.now() - this.started) / 1000).toFixed(1);
    console.log(`\n${this.passed} checks passed, ${this.failures.length} failed, in ${seconds} s`);
    if (this.failures.length) {
      console.log('\nFailed:');
      for (const f of this.failures) console.log(`  - ${f.name}`);
    }
    return this.failures.length === 0;
  }
}

class StoryStopped extends Error {}
