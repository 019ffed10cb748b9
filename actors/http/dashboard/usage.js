// The hosts (Nova's os-hypervisors) and placement's providers with their usage, for admins:
// each read whole from the API through `call`, as table rows for the caller to put in the page.
import { bar, el } from './kit.js';

export async function hostRows(call) {
  const { hypervisors } = await call('GET', '/compute/v2.1/os-hypervisors/detail');
  const rows = hypervisors.map((h) => {
    const up = h.state === 'up' ? (h.status === 'enabled' ? 'up' : 'disabled') : 'down';
    return el(
      'tr',
      { 'data-host': h.hypervisor_hostname },
      el('td', {}, h.hypervisor_hostname),
      el('td', { class: 'state' }, el('span', { class: `pill ${up}` }, up)),
      el('td', {}, bar(h.vcpus_used, h.vcpus)),
      el('td', {}, bar(h.memory_mb_used, h.memory_mb)),
      el('td', {}, bar(h.local_gb_used, h.local_gb)),
    );
  });
  return rows;
}

export async function providerRows(call) {
  const rp = '/placement/resource_providers';
  const { resource_providers: providers } = await call('GET', rp);
  providers.sort((a, b) => a.name.localeCompare(b.name));
  const rows = await Promise.all(
    providers.map(async (p) => {
      const [{ inventories }, { usages }] = await Promise.all([
        call('GET', `${rp}/${p.uuid}/inventories`),
        call('GET', `${rp}/${p.uuid}/usages`),
      ]);
      const usage = el('div', { class: 'usage' });
      for (const [rc, i] of Object.entries(inventories).sort()) {
        const capacity = Math.floor((i.total - i.reserved) * i.allocation_ratio);
        usage.append(el('span', {}, rc), bar(usages[rc] || 0, capacity));
      }
      return el('tr', { 'data-provider': p.name }, el('td', {}, p.name), el('td', {}, usage));
    }),
  );
  return rows;
}
