"""The page's own JavaScript and CSS: keyboard shortcuts, the dark-mode toggle, the compact layout."""

# Runs once when the page loads: the saved colour scheme, Ctrl/Cmd+Enter writes, Esc stops a generation
# (only while one runs: Esc also closes menus and lists, which must not press Stop).
PAGE_JS = """() => {
  const dark = localStorage.getItem('inkwell-dark');
  if (dark !== null) { document.body.classList.toggle('dark', dark === '1'); }
  document.addEventListener('keydown', (event) => {
    const click = (id) => { const b = document.getElementById(id); if (b && !b.disabled) { b.click(); } };
    const embed = document.getElementById('embed');
    const inEmbed = embed && embed.offsetParent !== null;
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      click(inEmbed ? 'embed-generate' : 'generate');
    } else if (event.key === 'Escape') {
      const writing = document.getElementById(inEmbed ? 'embed-generate' : 'generate');
      if (inEmbed || (writing && writing.disabled)) { click(inEmbed ? 'embed-stop' : 'stop'); }
    }
  });
}"""

# The dark-mode button: flip the scheme and remember it in this browser.
DARK_TOGGLE_JS = """() => {
  const on = !document.body.classList.contains('dark');
  document.body.classList.toggle('dark', on);
  localStorage.setItem('inkwell-dark', on ? '1' : '0');
}"""

CSS = """
.ink-card h3 {margin: 0 0 .2rem 0; font-size: 1.05em}
.ink-card p {margin: .1rem 0; font-size: .9em}
.ink-example {font-style: italic; white-space: normal !important; text-align: left !important}
.ink-buttons {flex-wrap: wrap !important; gap: .4rem !important}
.ink-buttons > button, .ink-buttons button {flex: 0 1 auto !important; width: auto !important; min-width: 5.5rem !important}
.ink-status {min-height: 1.6rem}
.ink-status p {margin: 0 !important}
#top-bar {align-items: center}
#top-bar button {flex: 0 0 auto !important; width: auto !important; white-space: nowrap}
.ink-field-row {align-items: flex-end !important}
.ink-field-row > button {flex: 0 0 auto !important; width: auto !important; margin-bottom: .5rem}
#takes-row {align-items: center}
#brand h1 {margin: 0}
@media (max-width: 640px) {
  #brand h1 {font-size: 1.4rem}
  .ink-buttons button {min-width: 4.5rem !important; padding: .3rem .5rem !important}
}
"""
