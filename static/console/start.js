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
