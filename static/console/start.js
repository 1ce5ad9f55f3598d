// Start page: show only the chosen question set's questions, and follow its language while "Detect" is
// selected (a Korean set almost always means a Korean interview; an explicit choice is never overridden).
const select = document.getElementById("id_question_set");
const language = document.getElementById("id_language");

function sync() {
  for (const details of document.querySelectorAll(".qs-preview")) {
    details.hidden = details.dataset.slug !== select.value;
  }
  const option = select.selectedOptions[0];
  if (option && option.dataset.language && language.value === "auto") {
    language.value = option.dataset.language;
  }
}

select.addEventListener("change", sync);
sync();

// Enrolling the interviewer's voice only makes sense for an interview on one microphone (practice has no
// interviewer; with two channels the channel already says who is who).
const enroll = document.getElementById("id_enroll");
function syncEnroll() {
  const practice = document.getElementById("id_mode_practice")?.checked;
  const stereo = document.querySelector('input[name="channels"][value="2"]')?.checked;
  enroll.disabled = Boolean(practice || stereo);
  if (enroll.disabled) enroll.checked = false;
}
for (const input of document.querySelectorAll('input[name="mode"], input[name="channels"]')) {
  input.addEventListener("change", syncEnroll);
}
if (enroll) syncEnroll();
