// The dashboard: sign in, pick a campaign, then follow it live — totals (campaignStats), activity
// (campaignActivity), the last 48 hours, each A/B test's result, and the drafts waiting for approval.
// Everything the server sends is shown as text (textContent), never as markup.
import { Api, ApiError, type Session, signIn, storedSession } from './api.ts';
import { type Bucket, renderTimeline } from './chart.ts';

const STATS = 'sent opened humanOpened clicked replied bounced unsubscribed openRate replyRate';
const FEED_LIMIT = 100;
const REVIEW_LIMIT = 50;
const HOUR_MS = 3_600_000;
/** The timeline and A/B results are read again when the totals change, at most this often. */
const FIGURES_EVERY_MS = 5_000;

type Stats = Record<string, number>;

interface Activity {
  kind: string;
  at: string;
  message: { id: string; subject: string | null } | null;
  enrollment: { position: { email: string | null; company: { name: string } | null } | null } | null;
}

interface Experiment {
  name: string;
  result: {
    leader: { key: string } | null;
    confidence: number | null;
    variants: { variant: { key: string }; stats: Stats }[];
  };
}

interface ReviewItem {
  id: string;
  subject: string | null;
  bodyText: string | null;
  step: { index: number } | null;
  variant: { key: string } | null;
}

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)} %`;
}

function showStats(stats: Stats): void {
  for (const node of document.querySelectorAll<HTMLElement>('[data-stat]')) {
    const name = node.dataset.stat!;
    const value = stats[name] ?? 0;
    node.textContent = name.endsWith('Rate') ? percent(value) : String(value);
  }
}

function activityLine(activity: Activity): HTMLLIElement {
  const line = element('li');
  const at = element('time', new Date(activity.at).toLocaleTimeString());
  at.setAttribute('datetime', activity.at);
  const who = activity.enrollment?.position;
  const parts = [who?.email, who?.company?.name, activity.message?.subject].filter(Boolean).join(' · ');
  line.append(at, element('span', activity.kind.replaceAll('_', ' ').toLowerCase(), 'kind'), parts);
  return line;
}

function experimentTable(experiment: Experiment): HTMLElement {
  const box = element('div', undefined, 'experiment');
  const { leader, confidence, variants } = experiment.result;
  box.append(
    element(
      'p',
      leader && confidence !== null
        ? `${experiment.name}: ${leader.key} leads, ${percent(confidence)} sure on reply rate`
        : `${experiment.name}: no leader yet (20 sends a variant needed)`,
    ),
  );
  const table = element('table');
  const head = element('tr');
  for (const title of ['variant', 'sent', 'open rate', 'replied', 'reply rate'])
    head.append(element('th', title));
  table.append(head);
  for (const { variant, stats } of variants) {
    const row = element('tr');
    for (const cell of [
      variant.key,
      String(stats.sent),
      percent(stats.openRate),
      String(stats.replied),
      percent(stats.replyRate),
    ])
      row.append(element('td', cell));
    table.append(row);
  }
  box.append(table);
  return box;
}

class Dashboard {
  private stopFollowing: (() => void)[] = [];
  private figuresTimer: ReturnType<typeof setTimeout> | undefined;
  private figuresReadAt = 0;
  private campaignId: string | undefined;

  constructor(private readonly api: Api) {}

  private fail(error: unknown): void {
    $('#workspace-error').textContent = error instanceof Error ? error.message : String(error);
  }

  async open(): Promise<void> {
    $('#organisation').textContent = this.api.organisationName;
    $('#sign-out').hidden = false;
    $('#workspace').hidden = false;
    const { campaigns } = await this.api.query<{ campaigns: { id: string; name: string; status: string }[] }>(
      'query Campaigns { campaigns(first: 200) { id name status } }',
    );
    const picker = $<HTMLSelectElement>('#campaign');
    picker.replaceChildren(
      element('option', campaigns.length ? 'Choose a campaign' : 'No campaign yet'),
      ...campaigns.map((c) => {
        const option = element('option', `${c.name} (${c.status.toLowerCase()})`);
        option.value = c.id;
        return option;
      }),
    );
    picker.onchange = () => {
      if (picker.value) this.follow(picker.value).catch((e) => this.fail(e));
    };
  }

  /** Reads the campaign's figures, then follows its totals and activity until another one is picked. */
  async follow(campaignId: string): Promise<void> {
    for (const stop of this.stopFollowing) stop();
    this.stopFollowing = [];
    this.campaignId = campaignId;
    $('#workspace-error').textContent = '';
    $('#feed').replaceChildren();
    await Promise.all([this.readFigures(), this.readReview()]);
    this.stopFollowing.push(
      this.api.subscribe<{ campaignStats: Stats }>(
        `subscription Totals($id: ID!) { campaignStats(campaignId: $id) { ${STATS} } }`,
        { id: campaignId },
        (data) => {
          showStats(data.campaignStats);
          this.figuresChanged();
        },
        (e) => this.fail(e),
      ),
      this.api.subscribe<{ campaignActivity: Activity }>(
        `subscription Activity($id: ID!) { campaignActivity(campaignId: $id) {
           kind at message { id subject } enrollment { position { email company { name } } } } }`,
        { id: campaignId },
        (data) => this.onActivity(data.campaignActivity),
        (e) => this.fail(e),
      ),
    );
  }

  private onActivity(activity: Activity): void {
    const feed = $('#feed');
    feed.prepend(activityLine(activity));
    while (feed.children.length > FEED_LIMIT) feed.lastElementChild?.remove();
    if (activity.kind === 'APPROVAL_NEEDED') this.readReview().catch((e) => this.fail(e));
  }

  /** The counters moved (campaignStats pushes after they are committed): read the timeline and A/B results again. */
  private figuresChanged(): void {
    if (this.figuresTimer) return;
    const wait = Math.max(0, this.figuresReadAt + FIGURES_EVERY_MS - Date.now());
    this.figuresTimer = setTimeout(() => {
      this.figuresTimer = undefined;
      this.readFigures().catch((e) => this.fail(e));
    }, wait);
  }

  private async readFigures(): Promise<void> {
    this.figuresReadAt = Date.now();
    const id = this.campaignId;
    const to = new Date(Math.ceil(Date.now() / HOUR_MS) * HOUR_MS);
    const from = new Date(to.getTime() - 48 * HOUR_MS);
    const { campaign } = await this.api.query<{
      campaign: {
        stats: Stats;
        timeline: Bucket[];
        steps: { index: number; experiment: Experiment | null }[];
      } | null;
    }>(
      `query Figures($id: ID!, $from: DateTime!, $to: DateTime!) { campaign(id: $id) {
         stats { ${STATS} }
         timeline(from: $from, to: $to, bucket: "hour") { start sent opened clicked replied }
         steps { index experiment { name result { leader { key } confidence
           variants { variant { key } stats { ${STATS} } } } } } } }`,
      { id, from: from.toISOString(), to: to.toISOString() },
    );
    if (id !== this.campaignId || !campaign) return;
    showStats(campaign.stats);
    renderTimeline($('#timeline'), campaign.timeline);
    const experiments = campaign.steps.flatMap((s) => (s.experiment ? [s.experiment] : []));
    $('#experiments').replaceChildren(
      ...(experiments.length
        ? experiments.map(experimentTable)
        : [element('p', 'No A/B test in this campaign')]),
    );
  }

  private async readReview(): Promise<void> {
    const id = this.campaignId;
    const { reviewQueue } = await this.api.query<{ reviewQueue: ReviewItem[] }>(
      `query Review($id: ID!, $first: Int!) { reviewQueue(campaignId: $id, first: $first) {
         id subject bodyText step { index } variant { key } } }`,
      { id, first: REVIEW_LIMIT },
    );
    if (id !== this.campaignId) return;
    $('#review').replaceChildren(
      ...(reviewQueue.length
        ? reviewQueue.map((m) => this.reviewLine(m))
        : [element('li', 'Nothing to review')]),
    );
  }

  private reviewLine(message: ReviewItem): HTMLLIElement {
    const line = element('li');
    const step = message.step ? `Step ${message.step.index + 1}` : 'Step';
    const variant = message.variant ? `, variant ${message.variant.key}` : '';
    line.append(element('strong', message.subject ?? '(no subject)'), element('div', `${step}${variant}`));
    line.append(element('pre', message.bodyText ?? ''));
    for (const [label, mutation] of [
      ['Approve', 'approveMessage'],
      ['Reject', 'rejectMessage'],
    ] as const) {
      const button = element('button', label);
      button.type = 'button';
      button.onclick = () => {
        button.disabled = true;
        this.api
          .query(`mutation Decide($id: ID!) { ${mutation}(id: $id) { id status } }`, { id: message.id })
          .then(() => this.readReview())
          .catch((e) => {
            button.disabled = false;
            this.fail(e);
          });
      };
      line.append(button);
    }
    return line;
  }
}

function showSignIn(): void {
  $('#workspace').hidden = true;
  $('#sign-out').hidden = true;
  $('#organisation').textContent = '';
  const form = $<HTMLFormElement>('#sign-in');
  form.hidden = false;
  form.onsubmit = (event) => {
    event.preventDefault();
    const fields = new FormData(form);
    form.querySelector('.error')!.textContent = '';
    signIn(String(fields.get('email')), String(fields.get('password'))).then(
      (session) => {
        form.hidden = true;
        start(session);
      },
      (error: unknown) => {
        form.querySelector('.error')!.textContent =
          error instanceof ApiError ? error.message : 'The server could not be reached';
      },
    );
  };
}

function start(session: Session): void {
  const api = new Api(
    session,
    () => location.reload(),
    (live) => {
      const badge = $('#connection');
      badge.dataset.state = live ? 'live' : 'offline';
      badge.textContent = live ? 'live' : 'offline';
    },
  );
  $('#sign-out').onclick = () => {
    api.signOut().finally(() => location.reload());
  };
  new Dashboard(api).open().catch((error: unknown) => {
    $('#workspace-error').textContent = error instanceof Error ? error.message : String(error);
  });
}

const session = storedSession();
if (session) start(session);
else showSignIn();
