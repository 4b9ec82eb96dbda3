//! Resume against a real SQLite file: a run is driven through `RunState`
//! with its journal on the write-behind store, "crashes" (the state is
//! dropped without an end), and is rebuilt from what was committed.

use std::sync::Arc;
use std::time::Duration;

use arcflow_core::flow::{Answer, Completion, FlowGraph, Input, Journal, Next, Resumed, RunStart, RunState, Scheduled, TaskNode, Target, Transition};
use arcflow_core::store::{SqliteStore, Store, WriteBehind, WriterConfig};
use arcflow_core::{compile_condition, CompileOptions, JsonTemplate, OutcomeStatus, Value, WorkflowContext};

fn temp_db(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("arcflow-resume-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("arcflow.db").to_string_lossy().into_owned()
}

fn writer(path: &str) -> Arc<WriteBehind> {
    let config = WriterConfig { flush_interval: Duration::from_millis(5), ..WriterConfig::default() };
    Arc::new(WriteBehind::start(Box::new(SqliteStore::open(path).unwrap()), config).unwrap())
}

/// a -> b -> c, each adding one to the previous result; `b` fails the run
/// when its result is negative (no transition handles it).
fn chain() -> Arc<FlowGraph> {
    let o = CompileOptions::default();
    let mut graph = FlowGraph::new("chain");
    for (name, input) in [("a", "{{ input }}"), ("b", "{{ tasks.a.result }}"), ("c", "{{ tasks.b.result }}")] {
        let mut node = TaskNode::new(name);
        node.input = Some(Arc::new(JsonTemplate::compile(&Value::from(input), o).unwrap()));
        graph.add_task(node);
    }
    let to = |t| Transition { when: None, publish: Vec::new(), targets: vec![Target::Task(t)] };
    graph.add_transition(0, to(1)).unwrap();
    let when_ok = Transition {
        when: Some(Arc::new(compile_condition("{{ succeeded() }}", o).unwrap())),
        publish: Vec::new(),
        targets: vec![Target::Task(2)],
    };
    graph.add_transition(1, when_ok).unwrap();
    graph.set_start(vec![0]).unwrap();
    graph.set_output(Arc::new(JsonTemplate::compile(&Value::from("{{ tasks.c.result }}"), o).unwrap()));
    Arc::new(graph)
}

/// Starts run `id` and completes its first `steps` tasks through the
/// core's steps, as the engine does (each succeeds with its input + 1, or
/// fails when `fail_at` is that task), then drops it as a crash would,
/// after the store committed what was queued (never idle: the crash comes
/// before the run's end is journaled).
fn run_then_crash(path: &str, id: &str, steps: u32, fail_at: Option<u32>, snapshot_every: u32) {
    let writer = writer(path);
    let graph = chain();
    let journal = Journal::start(Arc::clone(&writer), id, &graph, "1", None, snapshot_every).unwrap();
    let start = RunStart { run_id: id.into(), started_ms: 0, journal: Some(journal), billing: None };
    let (mut state, mut answer) = RunState::start(Arc::clone(&graph), WorkflowContext::new(Value::from(1)), start).unwrap();
    for _ in 0..steps {
        let Answer::Schedule(mut next) = answer else { break };
        let Scheduled { task, step, input } = next.remove(0);
        let Input::Rendered(input) = input else { panic!("expected an input, got {input:?}") };
        let input: i64 = input.parse().unwrap();
        let (status, payload) = if fail_at == Some(task) {
            (OutcomeStatus::Failed, r#"{"name":"Error","message":"boom"}"#.to_owned())
        } else {
            (OutcomeStatus::Succeeded, (input + 1).to_string())
        };
        let completion = Completion { task, step, attempt: 1, status, payload_json: &payload, charge: None, follow: true, idle: false };
        answer = state.complete_task(completion).unwrap();
        state.ack().unwrap();
    }
    assert!(writer.settle(Duration::from_secs(5)));
    drop(state); // the crash: no end is journaled
    writer.close();
}

fn resume(path: &str, id: &str) -> arcflow_core::Result<(RunState, Resumed)> {
    let mut reader = SqliteStore::open(path).unwrap();
    RunState::resume(chain(), &mut reader, writer(path), id, 2)
}

#[test]
fn resume_goes_on_with_the_task_in_flight_and_its_context() {
    let path = temp_db("continue");
    run_then_crash(&path, "r1", 1, None, 100);
    let (state, resumed) = resume(&path, "r1").unwrap();
    let Resumed::Continue(pending) = resumed else { panic!("expected pending work, got {resumed:?}") };
    assert_eq!(pending.iter().map(|p| (p.task, p.step)).collect::<Vec<_>>(), [(1, 1)]);
    // b was journaled as running: the interrupted attempt is there for the engine
    assert_eq!(pending[0].executions.iter().map(|e| (e.attempt, e.status)).collect::<Vec<_>>(), [(1, "running")]);
    assert_eq!(state.task_input(1).unwrap().as_deref(), Some("2"));
    assert_eq!(state.starts(), [1, 1, 0]);
}

#[test]
fn resume_starts_from_the_snapshot_not_from_the_whole_journal() {
    let path = temp_db("snapshot");
    // a snapshot after every 2 completions: one after a and b
    run_then_crash(&path, "r1", 2, None, 2);
    // erase what the snapshot covers: resume must not need it
    let conn = rusqlite::Connection::open(&path).unwrap();
    let covered: i64 = conn.query_row("SELECT jseq FROM snapshots WHERE run_id = 'r1'", [], |r| r.get(0)).unwrap();
    let erased = conn.execute("DELETE FROM executions WHERE run_id = 'r1' AND jseq <= ?1 AND task != 'c'", [covered]).unwrap();
    assert_eq!(erased, 2, "a and b are covered by the snapshot");
    drop(conn);
    let (state, resumed) = resume(&path, "r1").unwrap();
    let Resumed::Continue(pending) = resumed else { panic!("expected pending work, got {resumed:?}") };
    assert_eq!(pending.iter().map(|p| p.task).collect::<Vec<_>>(), [2]);
    assert_eq!(state.task_input(2).unwrap().as_deref(), Some("3"), "the context came from the snapshot");
}

#[test]
fn a_run_whose_last_completion_ended_it_resumes_as_ended() {
    let path = temp_db("ended");
    run_then_crash(&path, "r1", 2, Some(1), 100);
    let (_, resumed) = resume(&path, "r1").unwrap();
    let Resumed::Ended { task, next, outcome, .. } = resumed else { panic!("expected an ended run, got {resumed:?}") };
    assert_eq!((task, next, outcome.status), (1, Next::Unhandled, OutcomeStatus::Failed));
}

#[test]
fn a_run_with_nothing_in_flight_resumes_complete() {
    let path = temp_db("complete");
    run_then_crash(&path, "r1", 3, None, 100);
    let (state, resumed) = resume(&path, "r1").unwrap();
    assert!(matches!(resumed, Resumed::Complete), "{resumed:?}");
    assert_eq!(state.output().unwrap(), Some(Value::from(4)));
}

#[test]
fn what_cannot_be_resumed_is_a_clear_error() {
    let path = temp_db("errors");
    run_then_crash(&path, "r1", 1, None, 100);
    let err = resume(&path, "nope").err().unwrap();
    assert_eq!((err.code(), err.to_string()), ("ARCFLOW_RESUME", "no run \"nope\" in the store".to_owned()));
    // a journal that names a task the workflow does not have
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE executions SET task = 'zz' WHERE task = 'a'", []).unwrap();
    drop(conn);
    let err = resume(&path, "r1").err().unwrap();
    assert!(err.to_string().contains("journaled task 'zz'"), "{err}");
    // an ended run
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .apply(&[arcflow_core::store::Write::RunEnded { id: "r1".into(), status: "cancelled".into(), output: None, error: None, ended_at: 1 }])
        .unwrap();
    let err = resume(&path, "r1").err().unwrap();
    assert!(err.to_string().contains("has ended (cancelled)"), "{err}");
}

#[test]
fn the_resume_message_says_running_again_for_an_interrupted_attempt_that_does_not_run_again() {
    // b (no retry) was running when the process died: it fails with
    // InterruptedError, it does not run again
    let path = temp_db("note");
    run_then_crash(&path, "r1", 1, None, 100);
    let (state, _) = resume(&path, "r1").unwrap();
    let note = state.resume_note().unwrap();
    assert_eq!(note, "resumed; 'b': attempt 1 was interrupted; it fails with InterruptedError (no retry left)");
    assert!(!note.contains("running again"), "{note}");
}
