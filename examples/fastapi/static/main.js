// Starts a task (POST /tasks) and shows its row, updated until the task is finished.
// The tutorial's flow; the row is updated in place rather than added again at each poll.

const FINISHED = new Set(['SUCCESS', 'FAILURE', 'REVOKED']);
const POLL_MS = 1000;

function handleClick(type) {
  fetch('/tasks', {
    method: 'POST',
    headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({type: type}),
  })
    .then(response => response.json())
    .then(data => {
      const row = document.getElementById('tasks').insertRow(0);
      for (let i = 0; i < 3; i++) row.insertCell();
      row.cells[0].textContent = data.task_id;
      getStatus(data.task_id, row);
    })
    .catch(err => console.log(err));
}

function describe(result) {
  if (result === null || result === undefined) return '';
  if (typeof result === 'object' && 'type' in result && 'message' in result) {
    return result.message ? `${result.type}: ${result.message}` : result.type;
  }
  return typeof result === 'object' ? JSON.stringify(result) : String(result);
}

function getStatus(taskID, row) {
  fetch(`/tasks/${encodeURIComponent(taskID)}`, {
    method: 'GET',
    headers: {'Content-Type': 'application/json'},
  })
    .then(response => response.json().then(body => ({ok: response.ok, body: body})))
    .then(({ok, body}) => {
      if (!ok) {
        row.cells[1].textContent = 'ERROR';
        row.cells[2].textContent = body.detail || '';
        return;
      }
      // textContent, not innerHTML: a task's result is data, never markup.
      row.cells[1].textContent = body.task_status;
      row.cells[1].className = 'status-' + body.task_status.toLowerCase();
      row.cells[2].textContent = describe(body.task_result);
      if (FINISHED.has(body.task_status)) return;
      setTimeout(() => getStatus(taskID, row), POLL_MS);
    })
    .catch(err => console.log(err));
}
