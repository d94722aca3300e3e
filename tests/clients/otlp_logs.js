// Sends log records to Lode's OTLP/HTTP endpoint with the OpenTelemetry JS
// SDK: @opentelemetry/exporter-logs-otlp-http (JSON) or -otlp-proto
// (protobuf). Usage: node otlp_logs.js URL COUNT json|proto
'use strict';
const { LoggerProvider, BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { context, trace } = require('@opentelemetry/api');

const [url, countArg, mode] = process.argv.slice(2);
const { OTLPLogExporter } = mode === 'proto'
  ? require('@opentelemetry/exporter-logs-otlp-proto')
  : require('@opentelemetry/exporter-logs-otlp-http');
const exporter = new OTLPLogExporter({ url: `${url}/v1/logs` });
const provider = new LoggerProvider({
  resource: resourceFromAttributes({
    'service.name': `cart-${mode}`,
    'service.instance.id': 'cart-7d9f-x2',
    'k8s.namespace.name': 'shop',
  }),
  processors: [new BatchLogRecordProcessor({ exporter })],
});
const logger = provider.getLogger('cart-logger', '1.2.0');
const spanContext = { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174',
                      traceFlags: 1 };
const ctx = trace.setSpanContext(context.active(), spanContext);
for (let i = 0; i < Number(countArg || 10); i++) {
  const error = i % 5 === 0;
  logger.emit({
    severityNumber: error ? 17 : 9,
    severityText: error ? 'ERROR' : 'INFO',
    body: `cart ${i} ${error ? 'checkout failed' : 'updated'}`,
    attributes: { 'cart.items': i, 'user.vip': i % 2 === 0 },
    timestamp: Date.now(),
    context: ctx,
  });
}
provider.forceFlush()
  .then(() => provider.shutdown())
  .then(() => process.exit(0))
  .catch((e) => { console.error(e); process.exit(1); });
