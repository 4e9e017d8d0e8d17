# The seed document's sync examples, as a user would write them; only the import
# lines differ from synapse-sdk's (the test points the example URL at a TestServer).
from agent_client import AgentClient
from agent_client import StreamLimits
from agent_client.exceptions import ClientError

# -- AgentClient (Sync): Usage
client = AgentClient(
base_url="https://agent.example.com",
agent_token="your-agent-token"
)

# Health check
status = client.health_check()
print(f"Agent status: {status}")

# List Ray jobs
jobs = client.list_jobs()

# Stream job logs
for line in client.tail_job_logs('raysubmit_abc123'):
    print(line)

# -- Log Streaming: Unified Method
for line in client.tail_job_logs('job-id', protocol='auto'):
    print(line)

# -- Stream Limits
client.stream_limits = StreamLimits(
max_messages=10_000, # Max WebSocket messages
max_lines=50_000, # Max HTTP lines
max_bytes=50*1024*1024, # 50MB total
max_message_size=10_240 # 10KB per message
)

# -- Job Operations
# List all jobs
jobs = client.list_jobs()

# Get job details
job = client.get_job('raysubmit_abc123')

# Get job logs (non-streaming)
logs = client.get_job_logs('raysubmit_abc123')

# Stop a running job
result = client.stop_job('raysubmit_abc123')

# -- Node Operations
# List cluster nodes
nodes = client.list_nodes()

# Get node details
node = client.get_node('node-abc123')

# -- Task Operations
# List all tasks
tasks = client.list_tasks()

# Get task details
task = client.get_task('task-xyz789')

# -- Ray Serve Operations
# List serve applications
apps = client.list_serve_applications()

# Get application details
app = client.get_serve_application('my-app')

# Delete application
client.delete_serve_application('my-app')

# -- Error Handling
try:
    for line in client.tail_job_logs('invalid-job'):
        print(line)
except ClientError as e:
    if e.status_code == 400:
        print("Invalid job ID or parameters")
    elif e.status_code == 404:
        print("Job not found")
    elif e.status_code == 503:
        print("Connection to agent failed")
    else:
        print(f"Error: {e}")
