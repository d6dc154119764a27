# The Sidekiq side of ops/bench/queue-vs-sidekiq: a job that does nothing, logging only warnings
# (Sidekiq logs every job at info level by default; Switchboard logs none).
require "sidekiq"

Sidekiq.configure_server { |config| config.logger.level = Logger::WARN }
Sidekiq.configure_client { |config| config.logger.level = Logger::WARN }

class NoopJob
  include Sidekiq::Worker
  def perform(_n); end
end
