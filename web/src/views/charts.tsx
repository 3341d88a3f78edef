import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LineController,
  LineElement,
  LinearScale,
  PointElement,
  Tooltip,
} from 'chart.js';
import { useEffect, useRef } from 'preact/hooks';
import { ActivityDay, Page, get, qs } from '../api';
import { Section, Status, useLoad } from '../components';
import { fmtNumber } from '../format';
import { t } from '../i18n';

Chart.register(
  BarController,
  BarElement,
  CategoryScale,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
  Legend,
);

const MB = 1024 * 1024;

function ChartCanvas(props: {
  label: string;
  build: (canvas: HTMLCanvasElement) => Chart;
  summary: string;
}) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!ref.current) return;
    const chart = props.build(ref.current);
    return () => chart.destroy();
  }, [props.build]);
  return (
    <figure class="chart">
      <figcaption>{props.label}</figcaption>
      <div class="chart-box">
        <canvas ref={ref} role="img" aria-label={`${props.label}: ${props.summary}`} />
      </div>
    </figure>
  );
}

export function ActivityCharts(props: { query: Record<string, string> }) {
  const loaded = useLoad(
    () => get<Page<ActivityDay>>(`/dashboard/activity${qs({ ...props.query, days: 30 })}`),
    [props.query.regionId],
  );
  return (
    <Section id="charts" title={t('charts')}>
      <Status loaded={loaded}>{(page) => <Charts days={page.items} />}</Status>
    </Section>
  );
}

function Charts(props: { days: ActivityDay[] }) {
  const labels = props.days.map((d) => d.day.slice(5));
  const installs = props.days.map((d) => d.installs);
  const bundles = props.days.map((d) => d.bundles);
  const saved = props.days.map((d) => +(d.savedBytes / MB).toFixed(2));
  const built = props.days.map((d) => +(d.bundleBytes / MB).toFixed(2));
  const common = {
    animation: false as const,
    responsive: true,
    maintainAspectRatio: false,
    scales: { y: { beginAtZero: true } },
  };
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return (
    <div class="grid2">
      <ChartCanvas
        label={t('chartInstalls')}
        summary={`${t('installsLabel')} ${fmtNumber(sum(installs))}, ${t('bundlesLabel')} ${fmtNumber(sum(bundles))}`}
        build={(canvas) =>
          new Chart(canvas, {
            type: 'bar',
            data: {
              labels,
              datasets: [
                { label: t('installsLabel'), data: installs, backgroundColor: '#1f77b4' },
                { label: t('bundlesLabel'), data: bundles, backgroundColor: '#9ecae1' },
              ],
            },
            options: common,
          })
        }
      />
      <ChartCanvas
        label={t('chartSaved')}
        summary={`${t('savedLabel')} ${fmtNumber(sum(saved))}`}
        build={(canvas) =>
          new Chart(canvas, {
            type: 'line',
            data: {
              labels,
              datasets: [
                {
                  label: t('savedLabel'),
                  data: saved,
                  borderColor: '#2ca02c',
                  backgroundColor: '#2ca02c',
                },
                {
                  label: t('sentLabel'),
                  data: built,
                  borderColor: '#ff7f0e',
                  backgroundColor: '#ff7f0e',
                },
              ],
            },
            options: common,
          })
        }
      />
    </div>
  );
}
