/** The demo province: a prefecture with four counties, 50 schools with teacher gaps, 12 lessons. */

export const DEMO_PROVINCE = { code: 'DEMO-GS', name: '甘肃省（演示）' };
export const DEMO_PREFECTURE = { code: 'DEMO-GS-LX', name: '临夏州（演示）' };
export const DEMO_COUNTIES = [
  { code: 'DEMO-GS-LX-01', name: '东乡县' },
  { code: 'DEMO-GS-LX-02', name: '积石山县' },
  { code: 'DEMO-GS-LX-03', name: '和政县' },
  { code: 'DEMO-GS-LX-04', name: '康乐县' },
];

const VILLAGES = [
  '河滩',
  '红山',
  '杨家',
  '马家',
  '王家',
  '大湾',
  '新庄',
  '北岭',
  '南沟',
  '柳树',
  '石门',
  '黄土',
];
const GAP_CHOICES = [
  'english:3-6;music:1-6',
  'english:3-6;art:1-6',
  'music:1-6;art:1-3',
  'english:3-4',
  'english:5-6;music:4-6',
  'art:1-6',
  '',
];

/** 50 schools as a CSV for POST /schools/import (deterministic, so a rerun changes nothing). */
export function schoolsCsv(): string {
  const header =
    'code,name,regionCode,pupils,grades,downlinkKbps,timezone,storageCapacityMb,teacherGaps,windows,broadcastReceiver,maxVideoHeight';
  const rows: string[] = [header];
  for (let i = 0; i < 50; i++) {
    const county = DEMO_COUNTIES[i % DEMO_COUNTIES.length];
    const village = VILLAGES[i % VILLAGES.length];
    const small = i % 3 === 0;
    const name = small ? `${county.name}${village}教学点` : `${county.name}${village}小学${i + 1}`;
    const pupils = small ? 12 + (i % 20) : 80 + ((i * 37) % 400);
    const downlink = [2000, 4000, 8000, 1000][i % 4];
    const windows = i % 5 === 0 ? '' : '22:00-06:00';
    const storage = [16000, 32000, 64000][i % 3];
    const height = downlink <= 1000 ? 240 : 480;
    rows.push(
      [
        `DEMO-${String(i + 1).padStart(3, '0')}`,
        name,
        county.code,
        pupils,
        '1;2;3;4;5;6',
        downlink,
        'Asia/Shanghai',
        storage,
        GAP_CHOICES[i % GAP_CHOICES.length],
        windows,
        i % 4 === 0 ? 'true' : 'false',
        height,
      ].join(','),
    );
  }
  return rows.join('\n') + '\n';
}

export interface DemoLesson {
  title: string;
  subject: string;
  grades: number[];
  media: { kind: 'video'; pattern: string; hz: number } | { kind: 'audio'; hz: number };
}

export const DEMO_LESSONS: DemoLesson[] = [
  {
    title: '英语 三年级 Unit 1 Hello',
    subject: 'english',
    grades: [3],
    media: { kind: 'video', pattern: 'testsrc', hz: 440 },
  },
  {
    title: '英语 三年级 Unit 2 Colours',
    subject: 'english',
    grades: [3],
    media: { kind: 'video', pattern: 'testsrc2', hz: 494 },
  },
  {
    title: '英语 四年级 Unit 1 My classroom',
    subject: 'english',
    grades: [4],
    media: { kind: 'video', pattern: 'smptebars', hz: 523 },
  },
  {
    title: '英语 五年级 Unit 1 My day',
    subject: 'english',
    grades: [5],
    media: { kind: 'video', pattern: 'rgbtestsrc', hz: 587 },
  },
  {
    title: '英语 六年级 Unit 1 How can I get there',
    subject: 'english',
    grades: [6],
    media: { kind: 'video', pattern: 'testsrc', hz: 659 },
  },
  {
    title: '音乐 一年级 有趣的声音',
    subject: 'music',
    grades: [1, 2],
    media: { kind: 'audio', hz: 262 },
  },
  {
    title: '音乐 三年级 小小音乐家',
    subject: 'music',
    grades: [3],
    media: { kind: 'audio', hz: 294 },
  },
  {
    title: '音乐 四至六年级 合唱入门',
    subject: 'music',
    grades: [4, 5, 6],
    media: { kind: 'audio', hz: 330 },
  },
  {
    title: '美术 一年级 认识颜色',
    subject: 'art',
    grades: [1, 2, 3],
    media: { kind: 'video', pattern: 'testsrc2', hz: 349 },
  },
  {
    title: '美术 四年级 线条的表现',
    subject: 'art',
    grades: [4],
    media: { kind: 'video', pattern: 'smptebars', hz: 392 },
  },
  {
    title: '美术 五六年级 水彩画',
    subject: 'art',
    grades: [5, 6],
    media: { kind: 'video', pattern: 'rgbtestsrc', hz: 415 },
  },
  {
    title: '英语 四年级 Unit 2 My schoolbag',
    subject: 'english',
    grades: [4],
    media: { kind: 'audio', hz: 370 },
  },
];
