//! Group commit for webhook intake: many deliveries, one transaction.
//!
//! Committing each delivery on its own made intake as fast as one writer
//! can run ~6 statements and a commit, one after the other, for every
//! webhook. Instead, webhook handlers hand their parsed delivery to a single
//! writer task ([`IntakeQueue::ingest`]) and wait for its answer. The writer
//! takes everything that queued up while the previous commit ran (up to
//! [`GroupCommit`]'s limits), stores it with [`Store::ingest_batch`] in one
//! transaction, and answers every waiting handler. There is no timer: an
//! idle writer commits a lone delivery at once, and a busy one makes larger
//! batches, so latency stays low at low rates and throughput grows with load.
//!
//! "Acknowledged means stored" still holds: a handler answers 200 only
//! after the batch that holds its delivery is committed. If the batch fails,
//! every delivery in it fails (500, and Meta redelivers later); nothing is
//! acknowledged that was not committed.

use std::fmt;

use anyhow::anyhow;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::Store;
use super::intake::{IngestOutcome, NewDelivery};

/// Limits of one group commit.
#[derive(Debug, Clone, Copy)]
pub struct GroupCommit {
    /// Deliveries per transaction. Webhook bursts rarely exceed this, and a
    /// transaction of this size commits in a few milliseconds on SQLite.
    pub max_deliveries: usize,
    /// Events per transaction: deliveries can carry many events each.
    pub max_events: usize,
    /// Raw body bytes per transaction (Meta's bodies go up to 3 MB).
    pub max_body_bytes: usize,
    /// Deliveries waiting for the writer before handlers wait to enqueue.
    pub queue_capacity: usize,
}

impl Default for GroupCommit {
    fn default() -> Self {
        Self {
            max_deliveries: 256,
            max_events: 4_096,
            max_body_bytes: 16 * 1024 * 1024,
            queue_capacity: 4_096,
        }
    }
}

/// One delivery waiting for its commit.
struct Job {
    delivery: NewDelivery,
    reply: oneshot::Sender<anyhow::Result<IngestOutcome>>,
}

/// The handlers' side: submit a delivery, wait until it is committed.
#[derive(Clone)]
pub struct IntakeQueue {
    jobs: mpsc::Sender<Job>,
}

impl fmt::Debug for IntakeQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntakeQueue")
            .field("queued", &self.queued())
            .finish()
    }
}

impl IntakeQueue {
    /// Stores `delivery` with the next group commit. `Ok` means committed.
    pub async fn ingest(&self, delivery: NewDelivery) -> anyhow::Result<IngestOutcome> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { delivery, reply })
            .await
            .map_err(|_| anyhow!("the intake writer has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow!("the intake writer stopped before committing"))?
    }

    /// Deliveries waiting for the writer.
    pub fn queued(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity()
    }
}

/// The writer's side: run it once with [`IntakeWriter::run`].
pub struct IntakeWriter {
    store: Store,
    jobs: mpsc::Receiver<Job>,
    limits: GroupCommit,
}

impl Store {
    /// Returns a copy of this store whose [`Store::ingest_queued`] goes
    /// through a group-commit writer, and that writer (not yet running).
    pub fn with_group_commit(self, limits: GroupCommit) -> (Store, IntakeWriter) {
        let (jobs, receiver) = mpsc::channel(limits.queue_capacity.max(1));
        // The writer's own store has no queue, so it never keeps it open.
        let writer = IntakeWriter {
            store: Store {
                intake: None,
                ..self.clone()
            },
            jobs: receiver,
            limits,
        };
        let store = Store {
            intake: Some(IntakeQueue { jobs }),
            ..self
        };
        (store, writer)
    }

    /// Stores a delivery with the next group commit when a writer is
    /// attached ([`Store::with_group_commit`]), else in a transaction of its
    /// own. `Ok` means committed: the webhook may be acknowledged.
    pub async fn ingest_queued(&self, delivery: NewDelivery) -> anyhow::Result<IngestOutcome> {
        match &self.intake {
            Some(queue) => queue.ingest(delivery).await,
            None => self.ingest(&delivery).await,
        }
    }

    /// The group-commit queue, when a writer is attached.
    pub fn intake_queue(&self) -> Option<&IntakeQueue> {
        self.intake.as_ref()
    }
}

impl IntakeWriter {
    /// Commits queued deliveries until `stop` fires; then refuses new ones,
    /// commits those already queued, and returns. Stop it after the HTTP
    /// server has drained, so no handler is left waiting.
    pub async fn run(mut self, stop: CancellationToken) {
        loop {
            let first = tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                job = self.jobs.recv() => match job {
                    Some(job) => job,
                    None => return,
                },
            };
            let batch = self.take_batch(first);
            self.commit(batch).await;
        }
        self.jobs.close();
        while let Some(first) = self.jobs.recv().await {
            let batch = self.take_batch(first);
            self.commit(batch).await;
        }
    }

    /// `first` and whatever else is already queued, within the limits.
    fn take_batch(&mut self, first: Job) -> Vec<Job> {
        let mut events = first.delivery.events.len();
        let mut bytes = first.delivery.body.len();
        let mut batch = vec![first];
        while batch.len() < self.limits.max_deliveries
            && events < self.limits.max_events
            && bytes < self.limits.max_body_bytes
        {
            match self.jobs.try_recv() {
                Ok(job) => {
                    events += job.delivery.events.len();
                    bytes += job.delivery.body.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        batch
    }

    async fn commit(&self, batch: Vec<Job>) {
        let (deliveries, replies): (Vec<NewDelivery>, Vec<_>) =
            batch.into_iter().map(|j| (j.delivery, j.reply)).unzip();
        metrics::histogram!("ventana_intake_batch_deliveries").record(deliveries.len() as f64);
        match self.store.ingest_batch(&deliveries).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // A handler that went away (client disconnected) needs no
                    // answer: its delivery is stored, a redelivery is a duplicate.
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) if deliveries.len() > 1 => {
                // One bad delivery must not take its batch-mates down with it
                // on every retry: commit each on its own, answering each with
                // its own result.
                tracing::warn!(error = ?e, deliveries = deliveries.len(), "group commit failed; committing its deliveries one by one");
                for (delivery, reply) in deliveries.iter().zip(replies) {
                    let result = self
                        .store
                        .ingest_batch(std::slice::from_ref(delivery))
                        .await
                        .map(|mut outcomes| outcomes.pop().unwrap_or_default());
                    if let Err(e) = &result {
                        tracing::error!(error = ?e, "delivery not stored; not acknowledged");
                    }
                    let _ = reply.send(result);
                }
            }
            Err(e) => {
                tracing::error!(error = ?e, "delivery not stored; not acknowledged");
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(e.context("storing the delivery failed")));
                }
            }
        }
    }
}
