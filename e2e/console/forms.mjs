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
