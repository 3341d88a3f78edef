import { useRef, useState } from 'preact/hooks';
import { Upload } from 'tus-js-client';
import { API, token } from '../api';
import { fmtBytes } from '../format';
import { t } from '../i18n';

type Phase = 'idle' | 'uploading' | 'paused' | 'done' | 'failed';

/**
 * A lesson file over tus: progress, pause and resume, and after a reload or a broken link it
 * carries on from the offset the server already has (the upload is remembered per lesson, path
 * and file).
 */
export function UploadForm(props: { lessonId: string; onUploaded: (path: string) => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [path, setPath] = useState('');
  const [phase, setPhase] = useState<Phase>('idle');
  const [sent, setSent] = useState(0);
  const [note, setNote] = useState('');
  const upload = useRef<Upload | null>(null);
  const percent = file && file.size ? Math.floor((sent / file.size) * 100) : 0;
  const pct = `${percent}%`;

  const start = async (e: Event) => {
    e.preventDefault();
    if (!file) return;
    const target = path.trim() || file.name;
    const up = new Upload(file, {
      endpoint: `${location.origin}${API}/uploads`,
      headers: { Authorization: `Bearer ${token() ?? ''}` },
      metadata: { lessonId: props.lessonId, path: target, filename: file.name },
      chunkSize: 8 * 1024 * 1024,
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      // One remembered upload per lesson, path and file: never resume into another lesson's draft.
      fingerprint: (f: File) =>
        Promise.resolve(
          ['classcast', props.lessonId, target, f.name, f.size, f.lastModified].join('/'),
        ),
      onProgress: (bytes) => setSent(bytes),
      onError: (err) => {
        setPhase('failed');
        setNote(t('uploadFailed', { message: err.message.split('\n')[0] }));
      },
      onSuccess: () => {
        setSent(file.size);
        setPhase('done');
        setNote(t('uploadDone', { name: target }));
        props.onUploaded(target);
      },
    });
    upload.current = up;
    setSent(0);
    setNote('');
    const previous = await up.findPreviousUploads();
    if (previous.length) {
      up.resumeFromPreviousUpload(previous[0]);
      setNote(t('uploadResumed'));
    }
    setPhase('uploading');
    up.start();
  };

  const pause = () => {
    void upload.current?.abort();
    setPhase('paused');
    setNote(t('uploadPaused', { percent: pct }));
  };

  const resume = () => {
    setPhase('uploading');
    setNote('');
    upload.current?.start();
  };

  return (
    <form class="form grid-form" onSubmit={(e) => void start(e)} aria-describedby="upload-status">
      <label for="up-file">{t('chooseFile')}</label>
      <input
        id="up-file"
        type="file"
        required
        disabled={phase === 'uploading' || phase === 'paused'}
        onChange={(e) => {
          setFile(e.currentTarget.files?.[0] ?? null);
          setPhase('idle');
          setSent(0);
          setNote('');
        }}
      />
      <label for="up-path">{t('pathInLesson')}</label>
      <input
        id="up-path"
        value={path}
        placeholder={file?.name ?? ''}
        disabled={phase === 'uploading' || phase === 'paused'}
        onInput={(e) => setPath(e.currentTarget.value)}
      />
      <div />
      <div class="buttons">
        {phase === 'uploading' ? (
          <button type="button" onClick={pause}>
            {t('pause')}
          </button>
        ) : phase === 'paused' || phase === 'failed' ? (
          <button type="button" class="primary" onClick={resume}>
            {t('resume')}
          </button>
        ) : (
          <button type="submit" class="primary" disabled={!file}>
            {t('startUpload')}
          </button>
        )}
      </div>
      {file && phase !== 'idle' ? (
        <>
          <label for="up-progress">{t('progress')}</label>
          <div class="progress-row">
            <progress id="up-progress" max={100} value={percent} />
            <span>
              {pct} · {fmtBytes(sent)} / {fmtBytes(file.size)}
            </span>
          </div>
        </>
      ) : null}
      <p id="upload-status" class="full" role="status" aria-live="polite">
        {phase === 'uploading' && !note
          ? t('uploadProgress', { name: path.trim() || file?.name || '', percent: pct })
          : note}
      </p>
    </form>
  );
}
