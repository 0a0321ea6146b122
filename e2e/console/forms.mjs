// Helpers of the scenarios that fill the console's forms.

// fieldError waits for msg in the error slot of the form field named name
// (ui.field's data-field), and says what the slot shows if it does not come.
export async function fieldError(page, name, msg) {
  const box = page.locator(`[data-field="${name}"] > .field-error`);
  try {
    await box.filter({ hasText: msg }).waitFor({ timeout: 5000 });
  } catch {
    throw new Error(`field ${name}: want error "${msg}", shows "${await box.textContent().catch(() => '(no such field)')}"`);
  }
}

// rows waits for the page's table to show n rows (the page is drawn anew
// after a search, so the rows of the one before may still be there).
export async function rows(page, n) {
  try {
    await page.waitForFunction(n => document.querySelectorAll('main tbody tr').length === n, n, { timeout: 5000 });
  } catch {
    throw new Error(`${await page.locator('main tbody tr').count()} rows, want ${n}`);
  }
}
