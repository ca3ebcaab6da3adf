import { connect } from 'node:net';
import type { ISocketFactory } from 'kafkajs';

/**
 * kafkajs's plain socket (keep-alive after 60 s, as its own factory) without Nagle's algorithm, which
 * Node leaves on: a produce or fetch written while an earlier request was not yet acknowledged by the
 * broker's TCP stack otherwise waited for its delayed ACK, up to 40 ms. The bus configures no TLS.
 */
export const noDelaySocketFactory: ISocketFactory = ({ host, port, onConnect }) => {
  const socket = connect({ host, port }, onConnect);
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 60_000);
  return socket;
};
