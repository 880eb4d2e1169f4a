// ESM entry: the same functions as the CommonJS entry; `session` is also the default export, so
// `import session from 'cognito-session'` replaces `import session from '@sswahn/session'`.
import api from './index.js'

export default api.session
export const {
  session,
  start,
  end,
  setCookie,
  clearCookie,
  signIn,
  respond,
  clearChallengeCookie,
  login,
  callback,
  logout,
} = api
