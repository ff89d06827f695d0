//! One long-lived thread that starts the processes parked ahead of demand.
//!
//! An environment's first process dies with Kumo through `PR_SET_PDEATHSIG`, which the kernel
//! fires when the *thread* that forked it exits, not the process. Started from tokio's blocking
//! pool, whose idle threads exit after ten seconds, a parked launcher (and the warm environment
//! later made from it, even in the middle of an invocation) was killed ten seconds after its
//! thread went idle. This thread lives as long as Kumo.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::OnceLock;

type Job = Box<dyn FnOnce() + Send>;

/// The spawner thread's queue, `None` if the thread could not be started.
fn jobs() -> Option<&'static mpsc::Sender<Job>> {
    static JOBS: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();
    JOBS.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new().name("kumo-spawner".to_string()).spawn(move || {
            for job in receiver {
                // A panicking job drops its answer (its caller sees an error); the thread, and the
                // processes it forked, live on.
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
            }
        });
        thread.ok().map(|_| sender)
    })
    .as_ref()
}

/// Runs `work` (which may fork processes meant to outlive it) on the spawner thread, within the
/// caller's tokio runtime, and waits for its result. Call within a tokio runtime.
pub(crate) async fn run<R: Send + 'static>(work: impl FnOnce() -> R + Send + 'static) -> Result<R, String> {
    let (answer, answered) = tokio::sync::oneshot::channel();
    // Children are tokio processes: their reaping needs the caller's runtime.
    let runtime = tokio::runtime::Handle::current();
    let job: Job = Box::new(move || {
        let _entered = runtime.enter();
        let _ = answer.send(work());
    });
    jobs()
        .ok_or("cannot start Kumo's spawner thread")?
        .send(job)
        .map_err(|_| "Kumo's spawner thread has ended".to_string())?;
    answered.await.map_err(|_| "the spawner thread's work failed".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_one_thread_that_outlives_it() {
        let first = run(|| std::thread::current().id()).await.unwrap();
        let second = run(|| std::thread::current().id()).await.unwrap();
        assert_eq!(first, second);
        assert_ne!(first, std::thread::current().id());
        assert_eq!(
            run(|| std::thread::current().name().map(str::to_string)).await.unwrap().as_deref(),
            Some("kumo-spawner")
        );
    }

    #[tokio::test]
    async fn a_panicking_job_fails_alone() {
        assert!(run(|| panic!("boom")).await.is_err());
        assert_eq!(run(|| 7).await, Ok(7));
    }

    #[tokio::test]
    async fn work_can_start_tokio_processes() {
        let child = run(|| tokio::process::Command::new("true").spawn()).await.unwrap().unwrap();
        assert!(child.wait_with_output().await.unwrap().status.success());
    }
}
