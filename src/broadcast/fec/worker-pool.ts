/**
 * A small pool of node:worker_threads running fec-worker: RaptorQ encoding and decoding, hashing
 * and file assembly stay off the event loop, so a sender keeps its pace and a receiver keeps
 * draining its socket while an object decodes. Idle workers do not keep the process alive.
 */
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Worker, type Transferable } from 'node:worker_threads';
import type { WorkerRequest, WorkerResponse, WorkerResult } from './worker-protocol';

interface Pending {
  request: WorkerRequest;
  transfer: Transferable[];
  resolve: (value: unknown) => void;
  reject: (reason: Error) => void;
}

interface Slot {
  worker: Worker;
  busy?: Pending & { id: number };
}

function spawn(): Worker {
  const compiled = join(__dirname, 'fec-worker.js');
  if (existsSync(compiled)) return new Worker(compiled);
  // Under ts-node/Jest the sources are TypeScript: let the worker compile them the same way.
  const source = join(__dirname, 'fec-worker.ts');
  return new Worker(
    `require('ts-node').register({ transpileOnly: true, swc: true }); require(${JSON.stringify(source)});`,
    { eval: true },
  );
}

export class FecWorkerPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  constructor(readonly size = Math.max(1, Math.min(2, cpus().length))) {}

  run<T extends WorkerRequest['type']>(
    request: Extract<WorkerRequest, { type: T }>,
    transfer: Transferable[] = [],
  ): Promise<WorkerResult<T>> {
    if (this.closed) return Promise.reject(new Error('worker pool closed'));
    return new Promise<WorkerResult<T>>((resolve, reject) => {
      this.queue.push({ request, transfer, resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  private slot(): Slot | undefined {
    const idle = this.slots.find((s) => !s.busy);
    if (idle) return idle;
    if (this.slots.length >= this.size) return undefined;
    const slot: Slot = { worker: spawn() };
    slot.worker.on('message', (msg: WorkerResponse) => this.settle(slot, msg));
    slot.worker.on('error', (err) => this.fail(slot, err));
    slot.worker.on('exit', (code) => {
      if (slot.busy) this.fail(slot, new Error(`FEC worker exited with code ${code}`));
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
    });
    this.slots.push(slot);
    return slot;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const slot = this.slot();
      if (!slot) return;
      const job = this.queue.shift()!;
      const id = this.nextId++;
      slot.busy = { ...job, id };
      slot.worker.ref();
      slot.worker.postMessage({ id, request: job.request }, job.transfer);
    }
  }

  private settle(slot: Slot, msg: WorkerResponse): void {
    const job = slot.busy;
    if (!job || job.id !== msg.id) return;
    slot.busy = undefined;
    slot.worker.unref();
    if (msg.ok) job.resolve(msg.result);
    else job.reject(new Error(msg.error));
    this.pump();
  }

  private fail(slot: Slot, err: Error): void {
    const job = slot.busy;
    slot.busy = undefined;
    if (job) job.reject(err);
    void slot.worker.terminate();
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('worker pool closed'));
    await Promise.all(this.slots.splice(0).map((s) => s.worker.terminate()));
  }
}
